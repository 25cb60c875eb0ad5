"""``chorus insights eval`` and ``chorus insights mine`` through click, as users run them: the eval simulates into its
own temporary SQLite workspace and prints exactly the spec's JSON keys; mine is incremental on the configured one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


SMALL = ("--scenario", "harbor", "--agents", "120", "--rounds", "4", "--seed", "3", "--k", "5")
SPEC = ["recall_at_k", "precision_at_k", "k", "truths", "found", "insights"]
REPORT = ["single", "cross", "funnel", "baseline", "coverage", "claims", "seconds"]


def last_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_eval_json_has_the_spec_keys_first_then_the_report(invoke: Invoke) -> None:
    out = last_json(invoke("insights", "eval", *SMALL, "--json"))
    assert list(out) == SPEC + REPORT
    assert out["k"] == 5 and out["truths"] == 7
    ranks = [i["rank"] for i in out["insights"]]
    assert ranks == list(range(1, len(ranks) + 1)) and ranks
    assert all(list(i) == ["rank", "kind", "title", "summary", "score", "truth"] for i in out["insights"])
    assert all(i["summary"] for i in out["insights"])
    top = [i["truth"] for i in out["insights"][:5] if i["truth"]]
    assert sorted(top) == sorted(out["found"])
    assert out["recall_at_k"] == len(out["found"]) / 7 and out["precision_at_k"] == len(out["found"]) / 5
    assert out["found"]  # a small run still surfaces a planted truth through the DB path
    assert out["single"]["truths"] + out["cross"]["truths"] == 7
    assert sorted(out["single"]["found"] + out["cross"]["found"]) == sorted(out["found"])
    assert set(out["funnel"]) == {"HR1", "HR2", "HO1", "HO2", "HR3", "HR4", "HO3"}  # every harbor truth names its
    assert all(set(f) == {"read", "said", "linked", "ranked"} for f in out["funnel"].values())  # documents
    assert list(out["baseline"]) == ["recall_at_k", "precision_at_k", "k", "found", "single", "cross"]
    assert out["coverage"]["chunks"] >= out["coverage"]["read"] > 0


def test_without_documents_recall_falls_and_nothing_is_read(invoke: Invoke) -> None:
    out = last_json(invoke("insights", "eval", *SMALL, "--without", "documents", "--json"))
    assert list(out) == [*SPEC, *REPORT, "ablation"] and out["ablation"] == "documents"
    assert out["recall_at_k"] <= 0.2
    assert out["coverage"]["chunks"] == 0 and out["claims"] == {"facts": 0, "links": 0}
    assert not any(f["read"] or f["said"] for f in out["funnel"].values())
    assert out["baseline"]["recall_at_k"] == 0.0


def test_without_persona_text_recall_does_not_fall(invoke: Invoke) -> None:
    full = last_json(invoke("insights", "eval", *SMALL, "--json"))
    out = last_json(invoke("insights", "eval", *SMALL, "--without", "persona-text", "--json"))
    assert out["ablation"] == "persona-text"
    assert out["recall_at_k"] >= full["recall_at_k"] > 0


def test_baseline_only_runs_no_simulation(invoke: Invoke) -> None:
    from insights.baseline import evaluate_baseline
    from personas.scenario import builtin_scenario, load_scenario

    result = invoke("insights", "eval", *SMALL, "--baseline-only", "--json")
    out = last_json(result)
    assert "simulating" not in result.stderr
    expected = evaluate_baseline(load_scenario(builtin_scenario("harbor")), k=5)
    assert list(out) == [*expected, "seconds"]
    assert {key: out[key] for key in expected} == expected
    text = invoke("insights", "eval", *SMALL, "--baseline-only")
    assert text.exit_code == 0 and "documents only (baseline): recall@5" in text.stdout


def test_compare_runs_the_full_evaluation_the_baseline_and_both_ablations(invoke: Invoke) -> None:
    out = last_json(invoke("insights", "eval", *SMALL, "--compare", "--json"))
    assert list(out) == ["full", "baseline", "without_documents", "without_persona_text"]
    assert "ablation" not in out["full"] and out["without_documents"]["ablation"] == "documents"
    assert out["without_persona_text"]["ablation"] == "persona-text"
    assert out["without_documents"]["recall_at_k"] <= 0.2
    text = invoke("insights", "eval", *SMALL, "--compare")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0] == "Harbor Payroll" and "recall@5" in lines[1] and "precision@5" in lines[1]
    assert [line.split("  ")[1].strip() for line in lines[2:6]] == [
        "full run", "documents only (baseline)", "without documents", "without persona text"]
    assert "without documents: recall 0.00 (must be <= 0.20: holds)" in lines[6]


def test_eval_options_that_exclude_each_other(invoke: Invoke) -> None:
    result = invoke("insights", "eval", *SMALL, "--compare", "--without", "documents")
    assert result.exit_code == 2 and "choose one of --without, --baseline-only and --compare" in result.stderr
    result = invoke("insights", "eval", *SMALL, "--baseline-only", "--llm")
    assert result.exit_code == 2 and "--llm does not apply to --baseline-only" in result.stderr
    result = invoke("insights", "eval", *SMALL, "--without", "channels")
    assert result.exit_code == 2 and "'channels' is not one of 'documents', 'persona-text'" in result.stderr


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


def test_evaluations_in_one_process_start_from_nothing(invoke: Invoke) -> None:
    """--compare runs several evaluations in one process, each in its own new database where the workspace has the
    same id: the second must not see the first's miner, schemes or leak-guard index."""
    first = last_json(invoke("insights", "eval", *SMALL, "--json"))
    second = last_json(invoke("insights", "eval", *SMALL, "--json"))
    first.pop("seconds"), second.pop("seconds")
    assert first == second and first["insights"]


def test_one_seed_gives_one_run_whatever_the_process_hashes_strings_with() -> None:
    """Python salts string hashing per process: nothing a run decides (which posts the leak guard refuses, which
    facts are linked) may follow a set's order or a salted hash, or the same seed gives another run in another
    process (a worker, a replica, the next evaluation)."""
    import os
    import subprocess
    import sys

    def run(hash_seed: str) -> dict[str, object]:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", "from workspace.app import main; main()", "insights", "eval",
                               "--scenario", "meridian", "--agents", "1000", "--rounds", "20", "--seed", "5",
                               "--json"], capture_output=True, text=True, env=env, check=True)
        out = json.loads(done.stdout.strip().splitlines()[-1])
        out.pop("seconds", None)  # how long it took is the one thing that may differ
        return dict(out)

    first, second = run("0"), run("5")
    assert first["insights"] == second["insights"]
    assert first == second
