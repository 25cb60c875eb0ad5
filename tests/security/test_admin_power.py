"""Probes: an admin's powers never reach above the admin's own clearance. An admin with internal clearance tries,
over HTTP, to mint a token for the restricted CEO agent, to create restricted roles, channels and documents (by
scenario upload, the API and the import page), to relabel or revive above its clearance, and to read restricted
persona text; every attempt is refused (and the refusals are audited) or the text is withheld. The same requests
from an admin with the top clearance succeed, so a refusal is the rule at work and not a broken route.
"""

from __future__ import annotations

from typing import Any

from tests.security.conftest import CEO_CONCERN, CEO_ROLE, Target

RESTRICTED_SCENARIO = """\
version: 1
name: Board room
labels:
  tiers: [public, internal, confidential, restricted]
  compartments: [exec]
org:
  - role: Board Secretary
    department: board
    count: 1
    label: {tier: restricted, compartments: [exec]}
    traits: [discreet]
    goals: ["minute every board meeting"]
    concerns: ["the acquisition nobody may know about"]
channels:
  - name: board-secrets
    topic: Only the board
    label: {tier: restricted, compartments: [exec]}
    members: {all: true}
"""


async def refusals(target: Target, actor: str) -> list[dict[str, Any]]:
    """The audited refusals of ``actor``, as a top-clearance security reviewer reads them."""
    async with target.client("sue") as http:
        res = await http.get("/api/audit", params={"action": "authority.refused", "actor": actor})
        assert res.status_code == 200, res.text
        events: list[dict[str, Any]] = res.json()["events"]
        return events


async def test_an_internal_admin_cannot_mint_a_token_for_a_restricted_agent(target: Target) -> None:
    ceo = target.ceo["member_id"]
    async with target.client("ivan") as http:
        res = await http.post(f"/api/admin/agents/{ceo}/tokens")
        assert res.status_code == 403, res.text
        assert "chorus_at_" not in res.text
        page = await http.post(f"/admin/agents/{ceo}/tokens", data={"csrf_token": target.people["ivan"].csrf_token})
        assert page.status_code == 403 and "chorus_at_" not in page.text
    async with target.client("tara") as http:
        tokens = (await http.get(f"/api/admin/agents/{ceo}/tokens")).json()
        assert [t for t in tokens if t["active"]] and len(tokens) == 1, "the seeded token is the only one"
    refused = await refusals(target, "ivan")
    assert len(refused) == 2, refused
    assert {e["details"]["attempted"] for e in refused} == {"agent_token.issued"}
    assert all(e["entity"] == {"type": "member", "id": str(ceo)} for e in refused)
    async with target.client("tara") as http:
        assert (await http.post(f"/api/admin/agents/{ceo}/tokens")).status_code == 201


async def test_an_internal_admin_cannot_create_restricted_roles_or_channels_by_scenario(target: Target) -> None:
    async with target.client("ivan") as http:
        res = await http.post("/api/admin/scenarios", json={"yaml": RESTRICTED_SCENARIO})
        assert res.status_code == 403, res.text
        assert "Board Secretary" in res.text and "board-secrets" in res.text, "the refusal names what was refused"
        for mode in ("preview", "import"):  # the import page's dry run, then the import itself
            page = await http.post("/admin/import", data={"source": "upload", "yaml": RESTRICTED_SCENARIO,
                                                          "mode": mode, "csrf_token": target.people["ivan"].csrf_token})
            assert page.status_code == 403 and "Board Secretary" in page.text, (mode, page.text[:500])
    async with target.client("tara") as http:
        roles = {r["name"] for r in (await http.get("/api/admin/roles")).json()}
        channels = {c["name"] for c in (await http.get("/api/channels")).json()}
        assert "Board Secretary" not in roles and "board-secrets" not in channels, "nothing was created"
    refused = await refusals(target, "ivan")
    assert [e["details"]["attempted"] for e in refused] == ["scenario.loaded", "scenario.planned", "scenario.loaded"]
    async with target.client("tara") as http:
        assert (await http.post("/api/admin/scenarios", json={"yaml": RESTRICTED_SCENARIO})).status_code == 201


async def test_an_internal_admin_cannot_create_a_restricted_channel_or_document(target: Target) -> None:
    async with target.client("ivan") as http:
        res = await http.post("/api/channels", json={"name": "secret-room", "label": "restricted/exec"})
        assert res.status_code == 403, res.text
        res = await http.post("/api/admin/documents", json={"title": "Secret plan", "body": "We will merge.",
                                                            "label": "restricted/exec"})
        assert res.status_code == 403, res.text
        ok = await http.post("/api/channels", json={"name": "open-room", "label": "internal"})
        assert ok.status_code == 201, ok.text
    async with target.client("tara") as http:
        assert "secret-room" not in {c["name"] for c in (await http.get("/api/channels")).json()}
        assert "Secret plan" not in {d["title"] for d in (await http.get("/api/admin/documents")).json()}
    assert sorted(e["details"]["attempted"] for e in await refusals(target, "ivan")) == [
        "channel.created", "document.ingested"]


async def test_an_internal_admin_cannot_relabel_or_revive_above_its_clearance(target: Target) -> None:
    ceo = target.ceo["member_id"]
    async with target.client("ivan") as http:
        res = await http.patch(f"/api/admin/agents/{ceo}", json={"label": "internal"})
        assert res.status_code == 403, "declassifying an agent it does not dominate"
        res = await http.patch(f"/api/admin/roles/{CEO_ROLE}", json={"label": "internal"})
        assert res.status_code == 403, "declassifying a role (and its persona text) it does not dominate"
        killed = await http.post("/api/admin/kill-switches", json={"agent": target.ceo["handle"]})
        assert killed.status_code == 201, "any admin may switch an agent off"
        revived = await http.post("/api/admin/kill-switches/revive", json={"agent": target.ceo["handle"]})
        assert revived.status_code == 403, "reviving restores a restricted agent's reach"
    async with target.client("tara") as http:
        agent = (await http.get(f"/api/admin/agents/{ceo}")).json()
        assert agent["label"] != "internal" and agent["active"] is False
        assert (await http.post("/api/admin/kill-switches/revive",
                                json={"agent": target.ceo["handle"]})).status_code == 201
    assert sorted(e["details"]["attempted"] for e in await refusals(target, "ivan")) == [
        "agent.label_changed", "agents.revived", "role.label_changed"]


async def test_restricted_persona_text_is_withheld_from_an_internal_admin(target: Target) -> None:
    ceo = target.ceo["member_id"]
    async with target.client("ivan") as http:
        one = await http.get(f"/api/admin/agents/{ceo}")
        assert one.status_code == 200 and CEO_CONCERN not in one.text, one.text
        assert one.json()["persona_hidden"] is True
        listed = await http.get("/api/admin/agents", params={"role": CEO_ROLE})
        assert listed.status_code == 200 and listed.json()["agents"] and CEO_CONCERN not in listed.text
        page = await http.get(f"/admin/agents/{ceo}")
        assert page.status_code == 200 and CEO_CONCERN not in page.text
    async with target.client("tara") as http:
        assert CEO_CONCERN in (await http.get(f"/api/admin/agents/{ceo}")).text
        assert CEO_CONCERN in (await http.get(f"/admin/agents/{ceo}")).text
