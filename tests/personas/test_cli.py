"""The personas CLI through click: scenario check (summary; every bad reference as file:line: key: message and
exit 1), scenario load (idempotent, reported), agents token/kill/revive, context ingest and canary. SQLite file in
a temporary data dir; each command opens the database itself (``run_with_db``), as in production."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from channels import config
from tests.personas.helpers import SCENARIO
from tests.personas.scenario_base import BASE
from workspace import cli as core_cli
from workspace import services
from workspace.app import build_cli, create_app
from workspace.hooks import hooks
from workspace.settings import Settings

Invoke = Callable[..., Result]
BAD_REFERENCES = """\
version: 1
name: Bad Co
labels:
  compartments: [ops]
org:
  - role: Picker
    department: ops
    count: 2
    label: {tier: internal, compartments: [opz]}
  - role: Driver
    department: fleet
    count: 1
    label: {tier: secret}
channels:
  - name: floor
    topic: Floor
    label: {tier: internal}
    members: {departments: [warehouse], roles: [Pickr]}
documents:
  - path: docs/*.md
    label: {tier: internal, compartments: [ops]}
"""


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Path, Invoke]]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path / "data")})
    core_cli.configure(settings, create_app)
    services.forget_schemes()  # the scheme cache is per process; this test's database is new
    hooks.clear()  # a CLI process has no app: no handlers left over from an earlier test's server
    config.set_publisher(None)
    group = build_cli(settings)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(group, list(args), catch_exceptions=False)

    yield tmp_path, invoke
    services.forget_schemes()


def test_check_prints_a_summary(run: tuple[Path, Invoke]) -> None:
    tmp, invoke = run
    path = tmp / "acme.yaml"
    path.write_text(SCENARIO)
    result = invoke("scenario", "check", str(path))
    assert result.exit_code == 0, result.output
    assert "OK: 'Acme Test'" in result.stdout
    assert "roles:     4 in 4 departments, 13 agents" in result.stdout
    assert "picker-0001" in result.stdout and "documents: 4" in result.stdout and "truths:    0" in result.stdout
    builtin = invoke("scenario", "check", "meridian", "--json")
    assert builtin.exit_code == 0 and '"agents": 1000' in builtin.stdout


def test_check_warns_when_a_truth_is_written_into_the_agents(run: tuple[Path, Invoke]) -> None:
    tmp, invoke = run
    clean, echo = tmp / "clean.yaml", tmp / "echo.yaml"
    clean.write_text(BASE)
    echo.write_text(BASE.replace("    topic: Money talk", "    topic: Money and the beta rollout"))
    result = invoke("scenario", "check", str(echo))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: {echo}:20: channels[1].topic: match term 'beta' of truth T1 appears in the topic of channel "
        "'money' ('Money and the beta rollout'): agents can say it without reading any document, so an evaluation "
        "would measure echo, not discovery"
    ]
    assert "warnings:  1" in result.stdout
    as_json = invoke("scenario", "check", str(echo), "--json")
    assert as_json.exit_code == 0 and as_json.stderr == ""
    assert json.loads(as_json.stdout)["warnings"] == [
        {"location": f"{echo}:20", "field": "channels[1].topic", "message": result.stderr.split(": ", 3)[3].strip()}
    ]
    quiet = invoke("scenario", "check", str(clean), "--json")
    assert json.loads(quiet.stdout)["warnings"] == [] and quiet.stderr == ""


def test_check_names_every_bad_reference_with_file_and_line(run: tuple[Path, Invoke]) -> None:
    tmp, invoke = run
    path = tmp / "bad.yaml"
    path.write_text(BAD_REFERENCES)
    result = invoke("scenario", "check", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    expected = [
        (9, "org[0].label.compartments[0]", "unknown compartment 'opz'"),
        (13, "org[1].label.tier", "unknown tier 'secret'"),
        (18, "channels[0].members.departments[0]", "unknown department 'warehouse'"),
        (18, "channels[0].members.roles[0]", "unknown role 'Pickr'"),
        (20, "documents[0].path", "matches no file"),
    ]
    for line, key, message in expected:
        assert any(s.startswith(f"{path}:{line}: {key}: ") and message in s for s in lines), (line, key, lines)
    assert lines[-1] == f"{len(expected)} problems; nothing was loaded"
    load = invoke("scenario", "load", str(path))
    assert load.exit_code == 1 and "nothing was loaded" in load.stderr


def test_load_agents_and_context_commands(run: tuple[Path, Invoke]) -> None:
    tmp, invoke = run
    path = tmp / "acme.yaml"
    path.write_text(SCENARIO)
    first = invoke("scenario", "load", str(path), "--agents", "26")
    assert first.exit_code == 0, first.output
    assert "agents:      26 created, 0 already there" in first.stdout
    second = invoke("scenario", "load", str(path), "--agents", "26")
    assert "nothing to do" in second.stdout and "agents:      0 created, 26 already there" in second.stdout

    token = invoke("agents", "token", "picker-0012")
    assert token.exit_code == 0 and token.stdout.strip().startswith("chorus_at_")
    missing = invoke("agents", "token", "picker-0099")
    assert missing.exit_code == 1 and "no agent with handle 'picker-0099'" in missing.stderr
    killed = invoke("agents", "kill", "--role", "Picker", "--reason", "test")
    assert killed.exit_code == 0 and "12 agent(s) switched off" in killed.stdout
    listing = invoke("agents", "list", "--role", "Picker", "--limit", "3")
    assert listing.stdout.count("OFF") == 3
    revived = invoke("agents", "revive", "--role", "Picker")
    assert "12 agent(s) switched back on" in revived.stdout

    docs = tmp / "ops-docs"
    (docs / "deep").mkdir(parents=True)
    (docs / "forklifts.md").write_text("# Forklift rota\n\nForklift three is out for repair until Friday.\n")
    (docs / "deep" / "notes.txt").write_text("Dock doors close at ten. Night shift uses door four.\n")
    (docs / "ignored.csv").write_text("a,b\n")
    ingest = invoke("context", "ingest", str(docs), "--label", "internal/ops")
    assert ingest.exit_code == 0, ingest.output
    assert "Forklift rota (internal/ops" in ingest.stdout and "2 ingested, 0 already there" in ingest.stdout
    again = invoke("context", "ingest", str(docs), "--label", "internal/ops")
    assert "0 ingested, 2 already there" in again.stdout
    bad_label = invoke("context", "ingest", str(docs), "--label", "internal/opps")
    assert bad_label.exit_code == 1 and "unknown compartment 'opps'" in bad_label.stderr

    canary = invoke("context", "canary")
    assert canary.exit_code == 0 and canary.stdout.count("chorus-canary-") == 4
    found = invoke("context", "search", "forklift repair", "--agent", "picker-0001",
                   "--channel", "ops-floor")
    assert found.exit_code == 0 and "Forklift rota" in found.stdout
