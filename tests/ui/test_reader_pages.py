"""The document page over plain HTTP (no browser): the cited span marked and the read audited; a reader below the
document's label refused with a page that names no title; anonymous browsers sent to sign in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.insights.helpers import document_with_span
from tests.support import LiveServer, live_server
from tests.ui.conftest import meridian
from workspace.app import create_app
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.settings import Settings
from workspace.tables import AuditEvent

BODY = ("# Brenner exit memo\n\nBrenner told purchasing on 3 November that it stops supplying KX-12 valves at the end "
        "of March.\n\nNo second source is qualified; qualification takes 14 weeks.\n")


@pytest.fixture
async def server(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[LiveServer]:
    await meridian(await ensure_workspace())
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings, database=sqlite_db)) as srv:
        yield srv


async def _session(handle: str, roles: tuple[str, ...], label: str) -> dict[str, str]:
    from tests.sso.helpers import human_session

    return (await human_session(handle, roles, label)).cookies


async def test_the_document_page_marks_the_cited_span_and_records_the_read(server: LiveServer) -> None:
    system = await system_actor(await ensure_workspace())
    doc, span = await document_with_span(system, "Brenner exit memo", BODY, "confidential/finance", "at the end of "
                                         "March")
    url = f"/documents/{doc}?chunk={span['chunk']}&start={span['start']}&end={span['end']}"
    async with server.client(cookies=await _session("fiona", ("employee",), "confidential/finance")) as http:
        res = await http.get(url)
        assert res.status_code == 200
        assert '<mark id="cited" tabindex="-1">at the end of March</mark>' in res.text
        assert "stops supplying KX-12 valves " in res.text and "14 weeks" in res.text, "the whole document is shown"
        whole = await http.get(f"/documents/{doc}")
        assert whole.status_code == 200 and "<mark" not in whole.text
        askew = await http.get(f"/documents/{doc}?chunk={span['chunk']}&start=5&end=999999")
        assert askew.status_code == 200 and 'id="cited-problem"' in askew.text and "<mark" not in askew.text
    reads = await AuditEvent.select(AuditEvent.actor_handle, AuditEvent.details).where(
        AuditEvent.action == "document.read")
    assert [r["actor_handle"] for r in reads] == ["fiona"] * 3
    assert f'"chunk": {span["chunk"]}' in reads[0]["details"].replace('":', '": ')


async def test_a_reader_below_the_documents_label_is_refused_without_its_title(server: LiveServer) -> None:
    system = await system_actor(await ensure_workspace())
    doc, span = await document_with_span(system, "Brenner exit memo", BODY, "confidential/finance", "March")
    async with server.client(cookies=await _session("paul", ("employee",), "internal/sales")) as http:
        res = await http.get(f"/documents/{doc}?chunk={span['chunk']}&start={span['start']}&end={span['end']}")
        assert res.status_code == 403 and res.headers["content-type"].startswith("text/html")
        assert "Above your clearance" in res.text
        assert "The document needs the clearance confidential/finance; yours is internal/sales." in res.text
        assert "Brenner" not in res.text and "KX-12" not in res.text
        assert (await http.get("/documents/999999")).status_code == 404
    assert not await AuditEvent.select().where(AuditEvent.action == "document.read")
    async with server.client() as anonymous:
        res = await anonymous.get(f"/documents/{doc}")
        assert res.status_code == 303 and res.headers["location"].startswith("/auth/login?next=/documents/")
