"""msgspec structs of the sso HTTP API."""

from __future__ import annotations

import msgspec


class Me(msgspec.Struct, frozen=True):
    handle: str
    kind: str
    roles: list[str]
    clearance: str
    dev_login: bool
    member_id: int | None = None
    display_name: str = ""
    csrf_token: str | None = None
    """The session's CSRF token, for the UI's X-CSRF-Token header on writes."""
