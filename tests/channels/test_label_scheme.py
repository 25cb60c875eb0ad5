"""The label scheme across processes: when another process adds a compartment and labels a channel with it, this
process refuses a reader without that compartment (over an open socket, over REST with a cached token, and for a
new request), and names the label in full. Two processes on one database: the app here, ``chorus scenario load``
in a subprocess; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from channels import services as ch
from tests.channels.helpers import world
from tests.channels.wshelp import raw_socket, running, send, token_agent
from workspace.db import Database
from workspace.errors import ChorusError, Forbidden
from workspace.services import actor_for_member, get_member, get_scheme

ROOT = Path(__file__).resolve().parents[2]
LEGAL = """\
version: 1
name: Legal desk
labels:
  compartments: [legal]
org:
  - role: Counsel
    department: legal
    count: 1
    label: {tier: confidential, compartments: [legal]}
channels:
  - name: contracts
    topic: Contracts under review
    label: {tier: confidential, compartments: [legal]}
    members: {roles: [Counsel]}
"""


async def answer_to(sock: ClientConnection, ref: str) -> dict[str, Any]:
    """The frame that answers the client frame ``ref`` (events before it are dropped)."""
    async with asyncio.timeout(10):
        while True:
            frame: dict[str, Any] = json.loads(await sock.recv())
            if frame.get("ref") == ref:
                return frame


def chorus(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``chorus`` CLI in its own process, on this test's database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHORUS_DATABASE_URL": database_url,
           "CHORUS_DATA_DIR": str(tmp_path / "cli")}
    return subprocess.run([sys.executable, "-c", "from workspace.app import main; main()", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


async def test_a_compartment_added_by_another_process_is_never_decoded_away(db: Database, tmp_path: Path) -> None:
    w = await world()  # compartments ops, sales, finance: no legal yet
    rita = await token_agent(w, "rita", "confidential")
    before = await get_scheme(w.ws)
    assert "legal" not in before.compartments
    async with running(db, tmp_path, "memory://") as server:
        sock = await raw_socket(server, rita.headers)  # its actor is built now, with the scheme as it is now
        async with server.client(headers=rita.headers) as http:
            assert (await http.get("/api/channels")).status_code == 200  # the token is cached from here on
            path = tmp_path / "legal.yaml"
            path.write_text(LEGAL)
            loaded = await asyncio.to_thread(chorus, tmp_path, db.settings.url.reveal(), "scenario", "load",
                                             str(path))
            assert loaded.returncode == 0, loaded.stdout + loaded.stderr

            # the socket opened before the change: refused (the label decoded, and not named to a reader below)
            await send(sock, {"type": "subscribe", "channel": "contracts", "ref": "s1"})
            frame = await answer_to(sock, "s1")
            assert frame["type"] == "error" and frame["code"] == "forbidden", frame
            assert "above the clearance of agent 'rita'" in frame["message"], frame
            assert "legal" not in frame["message"], frame
            await sock.close()
            # REST with the token cached before the change
            got = await http.get("/api/channels/by-name/contracts")
            assert got.status_code == 403, got.text
            assert "above the clearance of agent 'rita'" in got.json()["detail"]
    # a new request in this process: the scheme is the stored one, not this process's first copy
    assert (await get_scheme(w.ws)).compartments == (*before.compartments, "legal")
    fresh = await actor_for_member(await get_member(w.ws, int(rita.actor.member_id or 0)))
    with pytest.raises(Forbidden, match=r"above the clearance of agent 'rita' \(confidential\)"):
        await ch.access_channel(fresh, "contracts")
    # an actor built before the change (a long-lived holder of the old scheme) is refused too, never admitted
    with pytest.raises(ChorusError) as refused:
        await ch.access_channel(rita.actor, "contracts")
    assert refused.value.code in ("forbidden", "label_outside_scheme"), refused.value
