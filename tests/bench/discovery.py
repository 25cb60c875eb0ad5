"""Benchmark: discovery on the built-in scenarios that carry truths. Each is simulated with the offline provider in a
fresh temporary SQLite workspace, mined and scored exactly as ``chorus insights eval`` does, beside the
documents-only baseline (the same miner over every fact of every document, no conversation, no links).

    .venv/bin/python -m tests.bench.discovery                        # every scenario, 1,000 agents x 20 rounds
    .venv/bin/python -m tests.bench.discovery --scenario harbor      # one scenario
    .venv/bin/python -m tests.bench.discovery --smoke                # 100 agents x 3 rounds, one scenario (CI)
    .venv/bin/python -m tests.bench.discovery --json                 # the table, then one JSON object last

A script, not a test: it prints a table (scenario; recall@k for one-document truths, for truths that need two or
more documents, and for all; precision@k; the baseline's recall for both shapes; the share of every document chunk
read, and read by two or more roles; links posted; seconds for the whole evaluation).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from insights.cli import fresh_evaluation
from personas.scenario import builtin_names, builtin_scenario, load_scenario

COLUMNS = (("scenario", 20, ""), ("single", 7, ".2f"), ("cross", 6, ".2f"), ("all", 5, ".2f"),
           ("precision", 10, ".2f"), ("base single", 12, ".2f"), ("base cross", 11, ".2f"), ("read %", 7, ".0f"),
           ("2 roles %", 10, ".0f"), ("links", 6, "d"), ("seconds", 8, ".1f"))


def scenarios_with_truths() -> list[str]:
    return [name for name in builtin_names() if load_scenario(builtin_scenario(name)).truths]


def measure(name: str, agents: int, rounds: int, seed: int, k: int) -> dict[str, Any]:
    scenario = load_scenario(builtin_scenario(name))
    started = time.perf_counter()
    result = fresh_evaluation(scenario, agents=agents, rounds=rounds, seed=seed, k=k)
    seconds = time.perf_counter() - started
    cover = result["coverage"]
    chunks = max(1, cover["chunks"])
    return {
        "scenario": name, "single": result["single"]["recall_at_k"], "cross": result["cross"]["recall_at_k"],
        "all": result["recall_at_k"], "precision": result["precision_at_k"],
        "base single": result["baseline"]["single"]["recall_at_k"],
        "base cross": result["baseline"]["cross"]["recall_at_k"],
        "read %": 100 * cover["read"] / chunks, "2 roles %": 100 * cover["read_by_two_roles"] / chunks,
        "links": result["claims"]["links"], "seconds": seconds,
        "found": result["found"], "truths": {"single": result["single"]["truths"],
                                             "cross": result["cross"]["truths"]},
        "baseline_found": result["baseline"]["found"],
    }


def _row(values: dict[str, Any]) -> str:
    return " ".join(f"{values[name]:>{width}{fmt}}" if fmt else f"{values[name]:<{width}}"
                    for name, width, fmt in COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="100 agents x 3 rounds on one scenario: does it run")
    parser.add_argument("--scenario", action="append", default=None,
                        help="a built-in scenario's name (repeatable; default: every one with truths)")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = parser.parse_args()
    names = args.scenario or scenarios_with_truths()
    agents, rounds = (100, 3) if args.smoke else (args.agents, args.rounds)
    if args.smoke:
        names = names[:1]
    print(f"offline provider, {agents} agents x {rounds} rounds, seed {args.seed}, k {args.k}; recall@{args.k} by "
          f"truth shape, the documents-only baseline's beside it", flush=True)
    print(" ".join(f"{h:>{w}}" if fmt else f"{h:<{w}}" for (h, w, fmt) in COLUMNS), flush=True)
    rows = []
    for name in names:
        row = measure(name, agents, rounds, args.seed, args.k)
        rows.append(row)
        print(_row(row), flush=True)
    if args.json:
        print(json.dumps({"agents": agents, "rounds": rounds, "seed": args.seed, "k": args.k,
                          "scenarios": [{key: (round(v, 4) if isinstance(v, float) else v) for key, v in r.items()}
                                        for r in rows]}))


if __name__ == "__main__":
    main()
