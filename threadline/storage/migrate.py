"""Versioned schema migrations: ``migrations/NNN_name.sql`` applied in order, once."""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Any

MIGRATION_RE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
log = logging.getLogger("threadline.store")
# Said once when a migration upgrades an existing store (not when a new one is made).
UPGRADE_NOTES = {
    4: "API keys are now stored hashed. This store kept them in clear before, in files "
       "other users may have been able to read, and freed pages of the file can hold the "
       "old values until they are reused: rotate the keys (threadline keys rotate).",
}


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package."""
    out = []
    for entry in resources.files("threadline.storage").joinpath("migrations").iterdir():
        m = MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text()))
    return sorted(out)


def migrate(con: Any) -> int:
    """Bring the schema up to date; returns the version now in force."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    existing = current > 0
    for version, name, sql in migrations():
        if version <= current:
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = version
        if existing and version in UPGRADE_NOTES:
            log.warning(UPGRADE_NOTES[version])
    return int(current)
