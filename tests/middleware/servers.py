"""Requests to the apps the middleware tests serve (with ``tests/app_servers.py``)."""

from __future__ import annotations

from typing import Any


def bearer(claims: dict[str, Any]) -> dict[str, str]:
    """An ``Authorization`` header with an HS256 JWT of ``claims`` (signed by the app's
    secret; the middleware reads it without verifying)."""
    import jwt

    token = jwt.encode(claims, "app-secret-the-middleware-never-sees", algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}
