"""``chorus insights mine|eval|digest``: one mining pass (or until caught up), the evaluation against a scenario's
planted truths in a fresh temporary SQLite workspace (with its baseline and ablations), and writing digests.
Thin: the work is in the services.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from insights.ablation import ABLATIONS, ablate
from personas.scenario import Scenario
from workspace.cli import run_with_db, settings
from workspace.db import Database
from workspace.services import DEFAULT_WORKSPACE
from workspace.settings import Secret


@click.group(name="insights")
def insights_group() -> None:
    """Mine conversations for risks and opportunities, evaluate mining, write digests."""


LLM_OPTION = click.option(
    "--llm", is_flag=True, help="Then rewrite the top insights' titles and summaries and re-rank them through the "
    "LLM provider (off by default; with the offline provider nothing changes).")
PROVIDER_OPTION = click.option(
    "--provider", "provider_name", type=click.Choice(["offline", "openai", "local"]), default=None,
    help="Provider for --llm (default: CHORUS_LLM_PROVIDER).")


def _provider(provider_name: str | None) -> Any:
    from personas.llm import make_provider

    llm = settings().llm
    return make_provider(replace(llm, provider=provider_name) if provider_name else llm)


async def _llm_pass(actor: Any, provider_name: str | None) -> dict[str, Any]:
    from insights.services_llm import llm_pass
    from personas.llm import close_provider

    provider = _provider(provider_name)
    try:
        return (await llm_pass(actor, provider)).as_dict()
    finally:
        await close_provider(provider)


@insights_group.command(name="mine")
@click.option("--workspace", "workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace name.")
@click.option("--once", is_flag=True, help="One pass only (default: passes until every channel is caught up).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per pass.")
@LLM_OPTION
@PROVIDER_OPTION
def mine_command(workspace: str, once: bool, as_json: bool, llm: bool, provider_name: str | None) -> None:
    """Mine the messages posted since the last pass (a cursor per channel: nothing is mined twice)."""
    from insights.services_mining import mine_workspace
    from workspace.services import ensure_workspace, system_actor

    async def go(_: Database) -> list[dict[str, Any]]:
        actor = await system_actor(await ensure_workspace(workspace), handle="cli")
        passes = []
        while True:
            result = await mine_workspace(actor)
            passes.append(result.as_dict())
            if once or not result.more:
                break
        if llm:
            passes.append({"llm": await _llm_pass(actor, provider_name)})
        return passes

    for p in run_with_db(go):
        if as_json:
            click.echo(json.dumps(p))
        elif "llm" in p:
            r = p["llm"]
            click.echo(f"LLM pass ({r['model'] or 'offline'}): {r['rewritten']} of {r['considered']} insight(s) "
                       f"rewritten, {r['tokens_in']}+{r['tokens_out']} tokens")
            for iid, outcome in r["outcomes"].items():
                click.echo(f"  insight {iid}: {outcome}")
        else:
            click.echo(f"mined {p['claims']} new claim(s) in {p['seconds']:.2f} s: {p['insights']} insight(s), "
                       f"{p['created']} new, {p['updated']} updated, {p['retired']} retired")


SPEC_KEYS = ("recall_at_k", "precision_at_k", "k", "truths", "found", "insights")
"""The keys spec/scenario.md defines, first in ``chorus insights eval --json``."""
REPORT_KEYS = ("single", "cross", "funnel", "baseline", "coverage", "claims", "seconds")
"""What ``--json`` adds after them: recall by the truth's shape, the funnel, the documents-only baseline,
reading coverage, claims posted and the evaluation's seconds."""


def fresh_evaluation(scenario: Scenario, *, agents: int, rounds: int, seed: int | None, k: int,
                     llm: bool = False, provider_name: str | None = None) -> dict[str, Any]:
    """Simulate ``scenario`` in a fresh temporary SQLite workspace, mine it and score it
    (:func:`insights.services_eval.evaluate_scenario`); each call starts from nothing, in this process too."""
    from insights.services_mining import forget_state
    from personas.context import leakguard
    from workspace.services import forget_schemes

    forget_state()  # a workspace of an earlier evaluation in this process has the same id in its own database
    forget_schemes()
    leakguard.invalidate()
    with tempfile.TemporaryDirectory(prefix="chorus-eval-") as tmp:
        conf = settings()
        conf = replace(conf, data_dir=Path(tmp), database=replace(conf.database,
                                                                  url=Secret(f"sqlite:///{tmp}/eval.db")))

        async def go(_: Database) -> dict[str, Any]:
            from channels import config
            from insights.services_eval import evaluate_scenario
            from workspace.hooks import hooks
            from workspace.services import ensure_workspace, system_actor

            config.configure(conf.limits)
            hooks.on("post.check", leakguard.check_post)
            actor = await system_actor(await ensure_workspace("eval", scenario.scheme), handle="eval")
            if not llm:
                return await evaluate_scenario(actor, scenario, agents=agents, rounds=rounds, seed=seed, k=k)
            from personas.llm import close_provider

            provider = _provider(provider_name)
            try:
                return await evaluate_scenario(actor, scenario, agents=agents, rounds=rounds, seed=seed, k=k,
                                               llm_provider=provider)
            finally:
                await close_provider(provider)

        try:
            return run_with_db(go, settings_=conf)
        finally:
            forget_state()


def _report(result: dict[str, Any], ablation: str | None = None) -> dict[str, Any]:
    """An evaluation as ``--json`` prints it: the spec's keys first, then :data:`REPORT_KEYS`, then the ablation."""
    out = {key: result[key] for key in (*SPEC_KEYS, *REPORT_KEYS) if key in result}
    if ablation is not None:
        out["ablation"] = ablation
    return out


def _baseline_report(scenario: Scenario, k: int) -> dict[str, Any]:
    from insights.baseline import evaluate_baseline

    started = time.perf_counter()
    result = evaluate_baseline(scenario, k=k)
    return {**result, "seconds": round(time.perf_counter() - started, 3)}


def _split(result: dict[str, Any]) -> str:
    return f"single {result['single']['recall_at_k']:.2f}  cross {result['cross']['recall_at_k']:.2f}"


def _print_eval(scenario: Scenario, result: dict[str, Any], k: int, ablation: str | None) -> None:
    run = result["run"]
    name = scenario.name + (f" without {ablation}" if ablation else "")
    click.echo(f"{name}: {run['messages']} messages from {run['agents']} agents in {run['rounds']} rounds; "
               f"{len(result['insights'])} insights")
    click.echo(f"recall@{k} {result['recall_at_k']:.2f} ({_split(result)})  precision@{k} "
               f"{result['precision_at_k']:.2f}  found {', '.join(result['found']) or 'none'} of {result['truths']}")
    base = result["baseline"]
    click.echo(f"documents-only baseline: recall@{k} {base['recall_at_k']:.2f} ({_split(base)})  precision@{k} "
               f"{base['precision_at_k']:.2f}")
    cover, said = result["coverage"], result["claims"]
    click.echo(f"chunks read {cover['read']} of {cover['chunks']} ({cover['planned']} planned, "
               f"{cover['read_by_two_roles']} read by two roles); "
               f"{said['facts']} fact claims, {said['links']} links; {result['seconds']:.1f} s")
    if result.get("llm"):
        click.echo(f"LLM pass: {result['llm']['rewritten']} of {result['llm']['considered']} rewritten")
    if result["funnel"]:
        click.echo("funnel (read / said / linked / rank):")

        def mark(v: object) -> str:
            return "-" if v is None else ("yes" if v else "no")

        for tid, f in result["funnel"].items():
            click.echo(f"  {tid:<6} {mark(f['read']):>3} {mark(f['said']):>4} {mark(f['linked']):>4} "
                       f"{f['ranked'] if f['ranked'] is not None else '-':>4}")
    _print_top(result, k)


def _print_top(result: dict[str, Any], k: int) -> None:
    for row in result["insights"][: max(k, 10)]:
        hit = row["truth"] or "-"
        click.echo(f"  {row['rank']:>3}. [{hit:>4}] {row['kind']:<11} {row['score']:.3f}  {row['title']}")


def _print_compare(scenario: Scenario, rows: dict[str, dict[str, Any]], k: int) -> None:
    names = {"full": "full run", "baseline": "documents only (baseline)", "without_documents": "without documents",
             "without_persona_text": "without persona text"}
    heads = (f"recall@{k}", "single", "cross", f"precision@{k}")
    click.echo(scenario.name)
    click.echo(f"  {'':<26}" + "".join(f"{h:>{len(h) + 2}}" for h in heads))
    for key, label in names.items():
        r = rows[key]
        values = (r["recall_at_k"], r["single"]["recall_at_k"], r["cross"]["recall_at_k"], r["precision_at_k"])
        click.echo(f"  {label:<26}" + "".join(f"{v:>{len(h) + 2}.2f}" for h, v in zip(heads, values, strict=True)))
    full, docs, text = rows["full"], rows["without_documents"], rows["without_persona_text"]
    click.echo(f"without documents: recall {docs['recall_at_k']:.2f} (must be <= 0.20: "
               f"{'holds' if docs['recall_at_k'] <= 0.2 else 'FAILS'}); without persona text: recall "
               f"{text['recall_at_k']:.2f} (must not fall below {full['recall_at_k']:.2f}: "
               f"{'holds' if text['recall_at_k'] >= full['recall_at_k'] else 'FAILS'})")


@insights_group.command(name="eval")
@click.option("--scenario", "scenario_file", required=True,
              help="Scenario file with truths (spec/scenario.md), or a built-in name such as meridian.")
@click.option("--agents", type=click.IntRange(min=1, max=100_000), default=1000, show_default=True,
              help="Scale the org chart to this many agents.")
@click.option("--rounds", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@click.option("--seed", type=int, default=None, help="Run seed (default: the scenario's seed, else 0).")
@click.option("--k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Cut-off rank.")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object: "recall_at_k", "precision_at_k", "k", "truths", "found", "insights" '
                   '(rank, kind, title, summary, score, truth), then "single", "cross", "funnel", "baseline", '
                   '"coverage", "claims", "seconds" (and "ablation" with --without).')
@click.option("--without", "without", type=click.Choice(list(ABLATIONS)), default=None,
              help="Ablation: take the scenario's documents, or every role's traits, goals and concerns, out "
                   "before the run.")
@click.option("--baseline-only", is_flag=True,
              help="Only the documents-only baseline (the same miner over every fact of every document, no "
                   "conversation, no links): no simulation, fast.")
@click.option("--compare", is_flag=True,
              help="Run the full evaluation, the baseline and both ablations, and print one table (with --json "
                   'one object: "full", "baseline", "without_documents", "without_persona_text").')
@LLM_OPTION
@PROVIDER_OPTION
def eval_command(scenario_file: str, agents: int, rounds: int, seed: int | None, k: int, as_json: bool,
                 without: str | None, baseline_only: bool, compare: bool, llm: bool,
                 provider_name: str | None) -> None:
    """Simulate SCENARIO with the offline provider in a fresh temporary SQLite workspace, mine it, and score the
    insights a reader with the highest label sees against the scenario's truths (recall@k, precision@k), beside
    the documents-only baseline and, for truths that name their documents, the funnel (read, said, linked,
    ranked)."""
    from personas.cli import _scenario

    if sum((without is not None, baseline_only, compare)) > 1:
        click.echo("chorus: choose one of --without, --baseline-only and --compare", err=True)
        sys.exit(2)
    if llm and baseline_only:
        click.echo("chorus: --llm does not apply to --baseline-only (the baseline has no conversation)", err=True)
        sys.exit(2)
    scenario = _scenario(scenario_file)
    if not scenario.truths:
        click.echo(f"chorus: {scenario_file} has no truths to evaluate against; add a 'truths:' list", err=True)
        sys.exit(1)
    if baseline_only:
        base = _baseline_report(scenario, k)
        if as_json:
            click.echo(json.dumps(base))
            return
        click.echo(f"{scenario.name}, documents only (baseline): recall@{k} {base['recall_at_k']:.2f} "
                   f"({_split(base)})  precision@{k} {base['precision_at_k']:.2f}  found "
                   f"{', '.join(base['found']) or 'none'} of {base['truths']}")
        _print_top(base, k)
        return

    def run(what: str | None) -> dict[str, Any]:
        ablated = ablate(scenario, what) if what else scenario
        click.echo(f"simulating {scenario.name!r}{f' without {what}' if what else ''} with {agents} agents for "
                   f"{rounds} rounds...", err=True)
        return fresh_evaluation(ablated, agents=agents, rounds=rounds, seed=seed, k=k, llm=llm,
                                provider_name=provider_name)

    if compare:
        rows = {"full": _report(run(None)), "baseline": _baseline_report(scenario, k),
                "without_documents": _report(run("documents"), "documents"),
                "without_persona_text": _report(run("persona-text"), "persona-text")}
        if as_json:
            click.echo(json.dumps(rows))
        else:
            _print_compare(scenario, rows, k)
        return
    result = run(without)
    if as_json:
        click.echo(json.dumps(_report(result, without)))
        return
    _print_eval(scenario, result, k, without)


@insights_group.command(name="digest")
@click.option("--workspace", "workspace", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace name.")
@click.option("--member", "handle", default=None, help="One person's handle (default: every active person "
                                                        "without a daily digest from the last day).")
@click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
def digest_command(workspace: str, handle: str | None, period: str) -> None:
    """Write digests: one person's (printed as Markdown) or everyone's daily ones."""
    from insights.services_digests import daily_digests, generate_digest
    from workspace.services import actor_for_member, ensure_workspace, get_member_by_handle

    async def go(_: Database) -> str:
        ws = await ensure_workspace(workspace)
        if handle is None:
            return f"wrote {await daily_digests(ws)} daily digest(s)"
        digest = await generate_digest(await actor_for_member(await get_member_by_handle(ws, handle)), period)
        return str(digest["markdown"])

    click.echo(run_with_db(go))


COMMANDS = [insights_group]
