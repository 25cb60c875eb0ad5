"""``chorus simulate``: a fresh temporary workspace per run, the exact ``--json`` shape, the same messages for the
same seed (the counts of two runs agree), and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from personas.runtime.cli import simulate_command
from workspace import cli as core_cli
from workspace.settings import Settings

KEYS = {"agents", "rounds", "turns", "messages", "reactions", "blocked", "tokens_in", "tokens_out", "cost", "wall_s",
        "coverage",
        "quality"}
QUALITY = {"reciprocity", "flat_thread_share", "on_topic_rate", "duplicate_rate", "speaker_share"}


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    core_cli.configure(Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path / "data")}), lambda *a, **k: None)
    return CliRunner()


def test_simulate_json_is_one_object_and_repeatable(runner: CliRunner, tmp_path: Path) -> None:
    args = ["--scenario", "meridian", "--agents", "60", "--rounds", "3", "--seed", "4", "--json"]
    first = runner.invoke(simulate_command, args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert set(out) == KEYS and set(out["quality"]) == QUALITY
    assert out["agents"] == 60 and out["rounds"] == 3 and out["messages"] > 0 and out["cost"] == 0.0
    assert "simulating" in first.stderr  # the progress bar goes to stderr, stdout stays one JSON object
    second = json.loads(runner.invoke(simulate_command, args).stdout)
    same = ("turns", "messages", "reactions", "blocked", "tokens_in", "tokens_out", "quality")
    assert {k: second[k] for k in same} == {k: out[k] for k in same}
    assert not (tmp_path / "data" / "chorus.db").exists()  # a temporary database, not the configured one


def test_simulate_summary_for_people_and_bad_scenarios(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(simulate_command, ["--scenario", "meridian", "--agents", "40", "--rounds", "1"])
    assert done.exit_code == 0, done.output
    assert "completed, 40 agents, 1 rounds" in done.stdout and "quality: reciprocity" in done.stdout
    missing = runner.invoke(simulate_command, ["--scenario", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "nope.yaml" in missing.stderr
