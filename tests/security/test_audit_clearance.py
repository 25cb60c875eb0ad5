"""Probes: the audit trail is labelled data too. A security reviewer with internal clearance reads, over the API,
the export and the pages, only entries whose label its clearance dominates (a restricted agent's context read, a
restricted document's ingest), and is told how many were hidden; a reviewer with the top clearance reads them all.
Exports made with the CLI are themselves on the record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.security.conftest import Target

MARKER = "quokka"
"""A word only the restricted CEO agent's query contains."""
BOARD_PACK = "Q3 board pack"
"""The title of Meridian's only restricted document."""


async def restricted_read(target: Target) -> None:
    """The CEO agent searches its context in #exec-staff (restricted): a ``context.read`` entry."""
    async with target.client(headers={"Authorization": f"Bearer {target.ceo_token}"}) as http:
        res = await http.get("/api/context/search", params={"channel": "exec-staff",
                                                            "q": f"board revenue {MARKER}"})
        assert res.status_code == 200, res.text


async def search(target: Target, who: str, **params: Any) -> dict[str, Any]:
    async with target.client(who) as http:
        res = await http.get("/api/audit", params={"limit": 500, **params})
        assert res.status_code == 200, res.text
        body: dict[str, Any] = res.json()
        return body


async def test_a_reviewer_reads_only_the_entries_its_clearance_dominates(target: Target) -> None:
    await restricted_read(target)
    low = await search(target, "sid", action="context.read")
    high = await search(target, "sue", action="context.read")
    assert MARKER in json.dumps(high["events"]), "the top reviewer reads the restricted query"
    assert MARKER not in json.dumps(low["events"]), "restricted query text shown to an internal reviewer"
    assert low["hidden"] >= 1 and high["hidden"] == 0
    assert len(low["events"]) + low["hidden"] == len(high["events"])

    low = await search(target, "sid", action="document.ingested")
    high = await search(target, "sue", action="document.ingested")
    assert BOARD_PACK in json.dumps(high["events"])
    assert BOARD_PACK not in json.dumps(low["events"]), "a restricted document's title shown to an internal reviewer"
    assert low["hidden"] >= 1 and len(low["events"]) + low["hidden"] == len(high["events"])


async def test_the_export_and_the_pages_hide_the_same_entries_and_say_how_many(target: Target) -> None:
    await restricted_read(target)
    async with target.client("sid") as http:
        export = await http.get("/api/audit/export", params={"format": "jsonl"})
        assert export.status_code == 200
        assert MARKER not in export.text and BOARD_PACK not in export.text
        assert int(export.headers["x-chorus-hidden-entries"]) >= 2
        csv = await http.get("/api/audit/export", params={"format": "csv"})
        assert MARKER not in csv.text and BOARD_PACK not in csv.text
        for path in ("/security/audit", "/security/reads", "/security/audit?action=document.ingested"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert MARKER not in page.text and BOARD_PACK not in page.text, path
            hidden = re.search(r'id="audit-hidden"[^>]*>\s*(\d+)', page.text)
            assert hidden is not None and int(hidden.group(1)) >= 1, (path, page.text[-3000:])
    async with target.client("sue") as http:
        export = await http.get("/api/audit/export", params={"format": "jsonl"})
        assert MARKER in export.text and BOARD_PACK in export.text
        assert export.headers["x-chorus-hidden-entries"] == "0"


async def test_exports_from_the_cli_are_audited(target: Target, tmp_path: Any) -> None:
    messages = await target.chorus("export", "messages", "--out", str(tmp_path / "messages.jsonl"))
    assert messages.returncode == 0, messages.stderr
    trail = await target.chorus("audit", "export", "--out", str(tmp_path / "audit.jsonl"))
    assert trail.returncode == 0, trail.stderr
    body = await search(target, "sue", action="messages.exported")
    assert [e["actor"]["handle"] for e in body["events"]] == ["cli"], body
    body = await search(target, "sue", action="audit.exported")
    assert [e["actor"]["handle"] for e in body["events"]] == ["cli"], body
    exported = (tmp_path / "audit.jsonl").read_text()
    assert '"action":"audit.exported"' in exported.replace(" ", ""), "the export records itself before it writes"
