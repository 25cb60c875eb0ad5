"""What broken requests get back over real HTTP (SQLite): a body that is not JSON says where parsing stopped
(``malformed_json``, not a generic ``http_error``), and the OpenAPI document declares errors as the problem details
the API really sends, so schema-driven clients and fuzzers can check them."""

from __future__ import annotations

from pathlib import Path

from channels import services as ch
from tests.channels.wshelp import app_settings, setup
from tests.support import live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.web import document_problem_responses


async def test_a_body_that_is_not_json_is_malformed_json_saying_where(sqlite_db: Database, tmp_path: Path) -> None:
    _, channel, (a, _b) = await setup()
    url = f"/api/channels/{channel['id']}/messages"
    app = create_app(app_settings(tmp_path, "memory://"), database=sqlite_db)
    async with live_server(app) as server, server.client(headers=a.headers) as http:
        for raw, where in ((b"{", "ended before the JSON value was complete (after 1 bytes)"),
                           (b'{"body": "hi", "client_msg_id": "x"', "ended before the JSON value was complete"),
                           (b'{"body": "hi", "client_msg_id": "x"} tail', "trailing characters (byte 38)"),
                           (b"{'body': 'single quotes'}", "byte 1")):
            res = await http.post(url, content=raw, headers={"content-type": "application/json"})
            problem = res.json()
            assert res.status_code == 400 and res.headers["content-type"].startswith("application/problem+json")
            assert problem["code"] == "malformed_json", problem
            assert problem["type"].endswith("/malformed_json") and where in problem["detail"], problem
            assert problem["errors"] == [{"field": "body", "message": problem["errors"][0]["message"]}]
        # well-formed JSON of the wrong shape is still validation_failed, naming the field
        res = await http.post(url, json={"body": 5, "client_msg_id": "x"})
        assert res.status_code == 400 and res.json()["code"] == "validation_failed" and "body" in res.text
    assert await ch.read_messages(channel, after_seq=0) == [], "nothing was written"


async def test_the_openapi_document_declares_problem_details(sqlite_db: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path, "memory://"), database=sqlite_db)
    document_problem_responses(app)
    document_problem_responses(app)  # idempotent: the composition root may call it once more
    async with live_server(app) as server, server.client() as http:
        doc = (await http.get("/schema/openapi.json")).json()
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    operations = [op for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 40
    for op in operations:
        errors = {status: r for status, r in op["responses"].items() if status[0] in "45" or status == "default"}
        assert "default" in errors, op["operationId"]
        for response in errors.values():
            assert list(response["content"]) == ["application/problem+json"], op["operationId"]
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}


async def test_an_id_too_large_for_the_database_is_a_400_naming_it(sqlite_db: Database, tmp_path: Path) -> None:
    _, channel, (a, _b) = await setup()
    app = create_app(app_settings(tmp_path, "memory://"), database=sqlite_db)
    huge = 2**70  # found by the schema fuzzer: it reached the driver and came back as a 500
    async with live_server(app) as server, server.client(headers=a.headers) as http:
        for method, path in (("GET", f"/api/channels/{huge}"), ("GET", f"/api/messages/{huge}"),
                             ("DELETE", f"/api/messages/{huge}"), ("POST", f"/api/channels/{huge}/join")):
            res = await http.request(method, path)
            problem = res.json()
            assert res.status_code == 400 and problem["code"] == "validation_failed", (path, problem)
            assert "64-bit" in problem["detail"] and problem["errors"][0]["message"] == "out of range"
            assert problem["errors"][0]["field"] in ("channel_id", "message_id"), problem
        res = await http.get(f"/api/channels/{channel['id']}/messages", params={"after_seq": str(huge)})
        assert res.status_code == 400 and res.json()["errors"][0]["field"] == "after_seq", res.text
        assert (await http.get(f"/api/channels/{channel['id']}")).status_code == 200
