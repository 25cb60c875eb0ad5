"""``chorus runs start|list|show|stop`` through click on a SQLite file: a started run is pending with its scenario,
seed, rounds and agents for a worker to claim; list and show report it (show with its coverage); stop ends a pending
run at once. Starts and stops are audited as the admin API's are. (Executed by real workers: test_readme_scale.py.)"""

from __future__ import annotations

import json

from tests.personas.test_cli import Invoke, run  # noqa: F401 (the CLI fixture)


def test_start_list_show_and_stop_a_run(run: tuple[object, Invoke]) -> None:  # noqa: F811 (the fixture)
    _, invoke = run
    assert "no runs yet" in invoke("runs", "list").stdout
    assert invoke("runs", "start", "--agents", "5").exit_code == 2  # --agents scales a scenario
    started = invoke("runs", "start", "--scenario", "meridian", "--agents", "40", "--rounds", "3", "--seed", "11",
                     "--json")
    assert started.exit_code == 0, started.output
    run_ = json.loads(started.stdout)
    assert (run_["status"], run_["scenario"], run_["seed"], run_["rounds"], run_["rounds_done"]) == (
        "pending", "Meridian Medical Devices", 11, 3, 0)
    assert 30 <= run_["agents"] <= 50 and run_["created_by"] == "cli"

    listed = invoke("runs", "list")
    assert listed.exit_code == 0 and f"run {run_['id']}  pending" in listed.stdout and "round 0/3" in listed.stdout
    shown = invoke("runs", "show", str(run_["id"]), "--json")
    assert json.loads(shown.stdout)["coverage"] == {"chunks": 0, "read": 0, "read_by_two_roles": 0, "documents": []}
    text = invoke("runs", "show", str(run_["id"])).stdout
    assert text.startswith(f"run {run_['id']}: pending, round 0/3, scenario Meridian Medical Devices, seed 11")

    stopped = invoke("runs", "stop", str(run_["id"]))
    assert stopped.exit_code == 0 and stopped.stdout.strip() == f"run {run_['id']}: stopped"
    again = invoke("runs", "stop", str(run_["id"]))
    assert again.exit_code == 1 and "has already ended (stopped)" in again.stderr
    assert invoke("runs", "show", "999").exit_code == 1

    actions = [json.loads(line) for line in invoke("audit", "export", "--jsonl").stdout.splitlines()]
    assert [(a["action"], a["actor"]["handle"]) for a in actions if a["action"].startswith("run.")] == [
        ("run.started", "cli"), ("run.stop_requested", "cli")]
