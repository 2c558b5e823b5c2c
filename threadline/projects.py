"""Projects, their keys and per-project settings (api.md, Projects, keys, settings)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any

from threadline.identity.ids import DEFAULT_JUNK_IDS, JunkFilter

KEY_RE = re.compile(r"^(wk|sk)_[A-Za-z0-9_-]{24,}$")
DEFAULT_PROJECT = "default"
DEFAULT_SET_ONCE = ("created_at", "first_seen", "signed_up_at")
IP_POLICIES = ("keep", "strict")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
# List settings are bounded: each value is checked on every identifier or trait.
MAX_LIST_ITEMS = 1000
MAX_ITEM_CHARS = 200
LIST_SETTINGS = ("junk_ids", "set_once")


def new_key(kind: str) -> str:
    """A fresh ``wk_``/``sk_`` key: 32 url-safe characters after the prefix."""
    prefix = "wk_" if kind == "write" else "sk_"
    return prefix + secrets.token_urlsafe(24).replace(".", "_")


def valid_key(key: str) -> bool:
    return bool(KEY_RE.match(key))


@dataclass(frozen=True)
class ProjectSettings:
    """Settings stored with a project and changed with ``threadline projects set``.

    ``junk_ids`` are the project's *additions* to the built-in junk values
    (``identity.ids.DEFAULT_JUNK_IDS``: ``""``, ``"null"``, ``"undefined"``, ...), which
    always apply: a project that blocks one more placeholder must not start merging
    everyone who sends ``anonymousId: ""``.
    """

    body_capture: bool = False
    ip_policy: str = "keep"
    junk_ids: tuple[str, ...] = ()
    set_once: tuple[str, ...] = DEFAULT_SET_ONCE
    retention_days: int | None = None

    @cached_property
    def junk_filter(self) -> JunkFilter:
        return JunkFilter(DEFAULT_JUNK_IDS | frozenset(self.junk_ids))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["junk_ids"] = list(self.junk_ids)
        out["set_once"] = list(self.set_once)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectSettings:
        s = cls()
        values: dict[str, Any] = {}
        if "body_capture" in data:
            values["body_capture"] = bool(data["body_capture"])
        if data.get("ip_policy") in IP_POLICIES:
            values["ip_policy"] = data["ip_policy"]
        if isinstance(data.get("junk_ids"), list):
            values["junk_ids"] = _extra_junk(str(v) for v in data["junk_ids"])
        if isinstance(data.get("set_once"), list):
            values["set_once"] = tuple(str(v) for v in data["set_once"])
        if "retention_days" in data:
            rd = data["retention_days"]
            values["retention_days"] = int(rd) if rd not in (None, "", 0, "0") else None
        return replace(s, **values)

    def with_value(self, name: str, raw: str) -> ProjectSettings:
        """A copy with one setting changed from its command-line text."""
        data = self.to_json()
        if name not in data:
            raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(data))}")
        if name == "body_capture":
            word = raw.strip().lower()
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError("body_capture must be true or false")
            data[name] = word in TRUE_WORDS
        elif name == "ip_policy":
            if raw not in IP_POLICIES:
                raise ValueError(f"ip_policy must be one of {', '.join(IP_POLICIES)}")
            data[name] = raw
        elif name in LIST_SETTINGS:
            items = [v.strip() for v in raw.split(",") if v.strip()]
            if len(items) > MAX_LIST_ITEMS:
                raise ValueError(f"{name} takes at most {MAX_LIST_ITEMS:,} values, not {len(items):,}")
            if any(len(v) > MAX_ITEM_CHARS for v in items):
                raise ValueError(f"{name} values are at most {MAX_ITEM_CHARS} characters each")
            data[name] = items
        elif name == "retention_days":
            text = raw.strip().lower()
            if text in ("", "0", "none"):
                data[name] = None
            elif text.isdigit():  # digits only: a negative or fractional age is refused
                data[name] = int(text)
            else:
                raise ValueError("retention_days must be a whole number of days, or none")
        return ProjectSettings.from_json(data)

    def with_values(self, changes: Mapping[str, str]) -> ProjectSettings:
        """A copy with every change applied, or :class:`SettingError` naming the first
        invalid one (then nothing is changed)."""
        out = self
        for name, raw in changes.items():
            try:
                out = out.with_value(name, raw)
            except ValueError as exc:
                raise SettingError(name, str(exc)) from None
        return out


class SettingError(ValueError):
    """An invalid value for the setting ``name``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _extra_junk(values: Iterable[str]) -> tuple[str, ...]:
    """The values not already built in (stores before the built-ins always applied kept
    the whole list), each once, in the order given."""
    out: dict[str, None] = {}
    for v in values:
        if v.strip().lower() not in DEFAULT_JUNK_IDS:
            out.setdefault(v, None)
    return tuple(out)


@dataclass(frozen=True)
class KeyInfo:
    """A valid key: which project it opens and whether it is a write or a secret key."""

    project_id: str
    kind: str  # 'write' or 'secret'
