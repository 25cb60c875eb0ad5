"""``chorus insights eval`` and ``chorus insights mine`` through click, as users run them: the eval simulates into its
own temporary SQLite workspace and prints exactly the spec's JSON keys; mine is incremental on the configured one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from channels import config
from insights.services_mining import forget_state
from workspace import cli as core_cli
from workspace import services
from workspace.app import build_cli, create_app
from workspace.hooks import hooks
from workspace.settings import Settings

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(tmp_path: Path) -> Iterator[Invoke]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path / "data")})
    core_cli.configure(settings, create_app)
    services.forget_schemes()  # a CLI process starts with no caches and no hooks from an earlier test's app
    forget_state()
    hooks.clear()
    config.set_publisher(None)
    group = build_cli(settings)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(group, list(args), catch_exceptions=False)

    yield run
    services.forget_schemes()
    forget_state()


def test_eval_json_has_exactly_the_spec_keys_and_consistent_ranks(invoke: Invoke) -> None:
    result = invoke("insights", "eval", "--scenario", "harbor", "--agents", "120", "--rounds", "4", "--seed", "3",
                    "--k", "5", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(out) == ["recall_at_k", "precision_at_k", "k", "truths", "found", "insights"]
    assert out["k"] == 5 and out["truths"] == 5
    ranks = [i["rank"] for i in out["insights"]]
    assert ranks == list(range(1, len(ranks) + 1)) and ranks
    assert all(set(i) == {"rank", "kind", "title", "score", "truth"} for i in out["insights"])
    top = [i["truth"] for i in out["insights"][:5] if i["truth"]]
    assert sorted(top) == sorted(out["found"])
    assert out["recall_at_k"] == len(out["found"]) / 5 and out["precision_at_k"] == len(out["found"]) / 5
    assert out["recall_at_k"] >= 0.4  # a small run still surfaces planted truths through the DB path


def test_eval_refuses_a_scenario_without_truths(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("version: 1\nname: Plain\norg:\n  - role: Clerk\n    department: ops\n    count: 2\n"
                    "    label: {tier: internal}\nchannels:\n  - name: floor\n    topic: Floor\n"
                    "    label: {tier: internal}\n    members: {all: true}\n")
    result = invoke("insights", "eval", "--scenario", str(path))
    assert result.exit_code == 1 and "has no truths" in result.output


def test_mine_on_an_empty_workspace_reads_nothing_and_says_so(invoke: Invoke) -> None:
    result = invoke("insights", "mine", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip())["messages"] == 0
