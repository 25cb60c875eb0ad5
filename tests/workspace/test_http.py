"""HTTP basics: health and readiness, the OpenAPI schema, RFC 9457 problem details for every error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import post
from litestar.params import JSONBody
from msgspec import Struct

from tests.support import live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.settings import Settings


class Thing(Struct):
    name: str
    count: int


@post("/_test/things", opt={"public": True})
async def make_thing(data: JSONBody[Thing]) -> Thing:
    return data


@pytest.fixture
async def client(db: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    app = create_app(settings, database=db)
    app.register(make_thing)
    async with live_server(app) as server, server.client() as c:
        yield c


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}


async def test_readyz_reports_pending_migrations(tmp_path: Path) -> None:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    async with live_server(create_app(settings)) as server, server.client() as c:
        res = await c.get("/readyz")
    assert res.status_code == 503
    assert res.headers["content-type"].startswith("application/problem+json")
    assert res.json()["code"] == "migrations_pending"
    assert "chorus migrate" in res.json()["detail"]


async def test_openapi_schema_is_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "Chorus"
    assert "/healthz" in schema["paths"]


async def test_unknown_route_is_a_problem_document(client: httpx.AsyncClient) -> None:
    res = await client.get("/no/such/thing")
    assert res.status_code == 404
    assert res.headers["content-type"].startswith("application/problem+json")
    body = res.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == 404


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    res = await client.post("/_test/things", json={"name": "x", "count": "many"})
    assert res.status_code == 400
    body = res.json()
    assert body["code"] == "validation_failed"
    assert any(e["field"] == "count" for e in body["errors"]), body


async def test_malformed_json_is_a_clear_400(client: httpx.AsyncClient) -> None:
    res = await client.post("/_test/things", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 400
    assert res.headers["content-type"].startswith("application/problem+json")


async def test_the_shared_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    res = await client.get("/static/chorus.css")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/css")
    assert "--accent" in res.text
