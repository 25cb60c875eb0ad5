"""Probes: ``chorus audit verify`` is a read-only check. An attacker with write access to the database adds a
pending (unsealed) entry, or edits a sealed entry's label; verify reports either (exit 1, with and without a
checkpoint) and changes nothing: the forged row is still pending afterwards and no row was added or sealed.
No server runs here, so no sealer hides what the attacker did.
"""

from __future__ import annotations

from pathlib import Path

from tests.security.conftest import chorus, cli_env, last_json, seed
from workspace import audit
from workspace.db import Database
from workspace.services import ensure_workspace

FORGED = ("INSERT INTO chorus_audit_event (seq, date_us, workspace_id, action, actor_type, actor_id, actor_handle, "
          "entity_type, entity_id, context, details, prev_hash, hash) VALUES (-42, 1, {}, 'login.dev', 'system', "
          "'system', 'system', 'identity', 'mallory', '{{}}', '{{\"note\":\"forged\"}}', '', '')")


async def counts(db: Database) -> tuple[int, int]:
    rows = await db.fetch("SELECT COUNT(*) AS n, SUM(CASE WHEN seq < 0 THEN 1 ELSE 0 END) AS pending "
                          "FROM chorus_audit_event")
    return int(rows[0]["n"]), int(rows[0]["pending"] or 0)


async def test_verify_reports_a_forged_pending_entry_and_writes_nothing(db: Database, database_url: str,
                                                                       tmp_path: Path) -> None:
    ws = await ensure_workspace()
    await seed(ws)
    await audit.seal_all()  # what the server's sealer does
    env = cli_env(database_url, tmp_path)
    clean = await chorus(["audit", "verify", "--json"], env)
    assert clean.returncode == 0 and last_json(clean)["ok"] is True, clean.stdout + clean.stderr
    checkpoint = tmp_path / "checkpoint.json"
    assert (await chorus(["audit", "checkpoint", "--out", str(checkpoint)], env)).returncode == 0
    await db.fetch(FORGED, ws)
    before = await counts(db)
    assert before[1] == 1
    for args in (["audit", "verify", "--json"], ["audit", "verify", "--json", "--checkpoint", str(checkpoint)]):
        done = await chorus(args, env)
        result = last_json(done)
        assert done.returncode == 1 and result["ok"] is False, (args, result)
        assert result["unsealed"] == 1, result
        assert await counts(db) == before, "verify wrote to the trail (sealed the forged row or recorded itself)"
    human = await chorus(["audit", "verify"], env)
    assert human.returncode == 1 and "not sealed" in human.stdout, human.stdout


async def test_verify_reports_an_entry_whose_label_was_lowered(db: Database, database_url: str,
                                                              tmp_path: Path) -> None:
    ws = await ensure_workspace()
    await seed(ws)
    await audit.seal_all()
    rows = await db.fetch("SELECT seq FROM chorus_audit_event WHERE action = 'document.ingested' "
                          "AND label_level > 0 ORDER BY seq DESC LIMIT 1")
    assert rows, "a restricted document's ingest carries its label"
    seq = int(rows[0]["seq"])
    await db.fetch("UPDATE chorus_audit_event SET label_level = 0, label_mask = 0 WHERE seq = {}", seq)
    done = await chorus(["audit", "verify", "--json"], cli_env(database_url, tmp_path))
    result = last_json(done)
    assert done.returncode == 1 and result["first_bad_seq"] == seq, result
