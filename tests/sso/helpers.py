"""Test helpers for every package: an agent with a token, a signed-in person with a session cookie.

Use inside a test that has the ``db`` (or ``sqlite_db``) fixture; send ``.headers`` (cookie + CSRF) with httpx.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sso.services_humans import apply_human
from sso.services_sessions import CSRF_HEADER, SESSION_COOKIE, SessionPolicy, create_session
from sso.services_tokens import issue_agent_token
from workspace import audit
from workspace import db as dbmod
from workspace.audit import Entity
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.tables import Member


@dataclass(frozen=True, slots=True)
class HumanSession:
    member_id: int
    session_ref: int
    cookie: str
    csrf_token: str

    @property
    def cookies(self) -> dict[str, str]:
        """For a client: ``server.client(cookies=s.cookies)`` (httpx deprecates per-request cookies)."""
        return {SESSION_COOKIE: self.cookie}

    @property
    def headers(self) -> dict[str, str]:
        """Per request: the session cookie plus the CSRF token that cookie-authenticated writes need."""
        return {"cookie": f"{SESSION_COOKIE}={self.cookie}", CSRF_HEADER: self.csrf_token}

    @property
    def ws_headers(self) -> dict[str, str]:
        """For a WebSocket handshake (websockets' ``additional_headers``)."""
        return {"cookie": f"{SESSION_COOKIE}={self.cookie}"}


async def human_session(handle: str = "ann", roles: Iterable[str] = ("employee",), label: str = "internal",
                        workspace_id: int | None = None, policy: SessionPolicy | None = None) -> HumanSession:
    """Create (or update) human ``handle`` with ``roles`` and clearance ``label`` and open a session for it."""
    ws = workspace_id or await ensure_workspace()
    system = await system_actor(ws)
    scheme = await get_scheme(ws)
    member_id = await apply_human(system, handle, handle.title(), frozenset(roles), scheme.parse(label))
    new = await create_session(member_id, policy or SessionPolicy(), kind="dev", action="login.dev",
                               details={"via": "tests"})
    return HumanSession(member_id=member_id, session_ref=new.ref, cookie=new.cookie, csrf_token=new.csrf_token)


async def create_agent_member(handle: str, label: str = "internal", workspace_id: int | None = None) -> int:
    """An agent member (stand-in until personas exposes its agent-creation service; audited like one)."""
    ws = workspace_id or await ensure_workspace()
    system = await system_actor(ws)
    lab = (await get_scheme(ws)).parse(label)
    async with dbmod.current().transaction():
        created = await Member.insert(Member(workspace=ws, kind="agent", handle=handle, display_name=handle,
                                             label_level=lab.level, label_mask=lab.mask,
                                             created_at=dt.datetime.now(dt.UTC)))
        member_id = int(created[0]["id"])
        await audit.record(system, "member.created", Entity("member", member_id),
                           {"kind": "agent", "handle": handle, "label": str(lab)})
    return member_id


async def agent_token_for(member_id: int) -> str:
    """Issue a token for agent ``member_id`` as the system actor (rotates any previous one)."""
    rows = await Member.select(Member.workspace).where(Member.id == member_id)
    assert rows, f"member {member_id} does not exist"
    return await issue_agent_token(await system_actor(int(rows[0]["workspace"])), member_id)


async def dev_form_token(http: Any, next_path: str | None = None) -> str:
    """Open the dev login form in ``http`` (an httpx client keeping cookies) and return its login CSRF token, which
    a post to /auth/dev must carry as ``login_csrf``."""
    form = await http.get("/auth/dev", params={"next": next_path} if next_path else None)
    found = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert found, f"the dev login form has no form token ({form.status_code})"
    return found.group(1)
