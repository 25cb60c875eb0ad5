"""Black-box probes of the leak guard against a running server (SQLite, and PostgreSQL with Redis fan-out when
CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL are set): the restricted CEO agent of the Meridian scenario posts
over REST, with its own token, into the public town-hall. A restricted canary, board-pack sentence or exec-staff
message split by hyphens or spaces, spelled with a Cyrillic look-alike, or paraphrased is refused (403
``leak_blocked``, audited); public text from the same agent goes through, so each probe fails if the guard
lets its disguise pass (as the word-shingle guard did for all of them)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from personas.context.documents import plant_canaries
from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from tests.channels.wshelp import running
from tests.sso.helpers import agent_token_for
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.tables import AuditEvent, Member

SECRET = ("The board agreed on Tuesday to sell the Columbus hub to Halvorsen for 14 million dollars, and the staff "
          "there hear of it in January.")
# A board-pack sentence reworded: other word order, other forms, a synonym (the benchmark measures many more).
BOARD_PARAPHRASE = ("Heads up: the board is next meeting in Columbus, on December 12th, or so I hear.")


@dataclass
class Probe:
    ceo: httpx.AsyncClient
    town_hall: int
    exec_staff: int
    marker: str
    board_sentence: str

    async def post(self, channel: int, body: str) -> httpx.Response:
        return await self.ceo.post(f"/api/channels/{channel}/messages",
                                   json={"body": body, "client_msg_id": uuid.uuid4().hex})

    async def refused(self, body: str) -> dict[str, Any]:
        res = await self.post(self.town_hall, body)
        assert res.status_code == 403, (res.status_code, res.text[:300])
        assert res.json()["code"] == "leak_blocked", res.text
        rows = await AuditEvent.select().where(AuditEvent.action == "post.blocked").order_by(AuditEvent.id)
        assert rows, "a block is audited"
        return dict(json.loads(rows[-1]["details"]))


@pytest.fixture
async def probe(db: Database, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Probe]:
    broker = request.getfixturevalue("redis_url") if not db.is_sqlite else "memory://"
    ws = await ensure_workspace()
    system = await system_actor(ws)
    scenario = load_scenario(builtin_scenario("meridian"))
    await load_scenario_into(system, scenario, agents=40)
    canaries = {c["label"]: c["marker"] for c in await plant_canaries(await system_actor(ws))}  # the new scheme
    marker = next(m for label, m in canaries.items() if label.startswith("restricted"))
    board = next(d for d in scenario.documents if d.label.tier == "restricted")
    sentence = next(s for s in re.split(r"(?<=[.!?])\s+", board.body) if len(s) > 100 and "|" not in s
                    and not s.startswith("#"))
    ceo = (await Member.select(Member.id).where((Member.workspace == ws)
                                                & Member.handle.like("chief-executive-officer-%")).limit(1))[0]["id"]
    token = await agent_token_for(int(ceo))
    async with running(db, tmp_path, broker, CHORUS_RUN_WORKERS_IN_PROCESS="false") as server, \
            server.client(headers={"Authorization": f"Bearer {token}"}) as client:
        channels = {c["name"]: c["id"] for c in (await client.get("/api/channels", params={"mine": "true"})).json()}
        yield Probe(client, channels["town-hall"], channels["exec-staff"], marker, sentence)


LOOK_ALIKES = {"a": "\u0430", "b": "\u0412", "c": "\u0441", "d": "\u0501", "e": "\u0435", "f": "\u03dc",
               "3": "\u0417", "6": "\u0431"}  # Cyrillic and Greek letters that look like these


def _look_alike(hexpart: str) -> str:
    """The marker's random part with its first letter that has a Cyrillic or Greek look-alike replaced by it."""
    at = next(i for i, c in enumerate(hexpart) if c in LOOK_ALIKES)
    return hexpart[:at] + LOOK_ALIKES[hexpart[at]] + hexpart[at + 1:]


def _split(text: str, sep: str) -> str:
    return " ".join(w[: len(w) // 2] + sep + w[len(w) // 2:] if len(w) > 6 else w for w in text.split(" "))


async def test_public_text_from_the_same_agent_goes_through(probe: Probe) -> None:
    res = await probe.post(probe.town_hall, "Reminder for everyone: the Aurora infusion pump FAQ is on the portal, "
                                            "and the hotline answers questions about it.")
    assert res.status_code == 201, res.text


@pytest.mark.parametrize("disguise", ["hyphen", "space", "cyrillic"])
async def test_a_restricted_canary_in_disguise_is_refused(probe: Probe, disguise: str) -> None:
    hexpart = probe.marker.rsplit("-", 1)[1]
    body = {"hyphen": f"internal ref {hexpart[:5]}-{hexpart[5:11]}-{hexpart[11:]}, ask me for the file",
            "space": f"the code is {' '.join(hexpart)} if you need it",
            "cyrillic": f"quoting {_look_alike(hexpart)} as it says"}[disguise]
    assert (await probe.refused(body))["canary"] is True


@pytest.mark.parametrize("disguise", ["hyphen", "space", "cyrillic"])
async def test_a_board_pack_sentence_in_disguise_is_refused(probe: Probe, disguise: str) -> None:
    text = {"hyphen": _split(probe.board_sentence, "-"), "space": _split(probe.board_sentence, " "),
            "cyrillic": probe.board_sentence.replace("o", "\u043e", 1)}[disguise]
    details = await probe.refused(f"Saw this today: {text}")
    assert str(details["label"]).startswith("restricted") and details["how"] == "copy"


async def test_a_board_pack_paraphrase_is_refused(probe: Probe) -> None:
    details = await probe.refused(BOARD_PARAPHRASE)
    assert str(details["label"]).startswith("restricted") and details["how"] == "paraphrase"


@pytest.mark.parametrize("disguise", ["verbatim", "hyphen", "cyrillic", "paraphrase"])
async def test_an_exec_staff_message_is_not_repeated_in_town_hall(probe: Probe, disguise: str) -> None:
    res = await probe.post(probe.exec_staff, SECRET)
    assert res.status_code == 201, res.text
    body = {"verbatim": SECRET, "hyphen": _split(SECRET, "-"), "cyrillic": SECRET.replace("a", "\u0430"),
            "paraphrase": "Keep it quiet: Halvorsen is buying our Columbus hub for 14 million dollars, the board "
                          "agreed on Tuesday."}[disguise]
    details = await probe.refused(body)
    assert str(details["label"]).startswith("restricted") and str(details["sources"][0]).startswith("message")

