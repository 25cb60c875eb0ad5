"""``chorus insights mine|eval|digest``: one mining pass (or until caught up), the evaluation against a scenario's
planted truths in a fresh temporary SQLite workspace, and writing digests. Thin: the work is in the services.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

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
    from personas.providers import make_provider

    llm = settings().llm
    return make_provider(replace(llm, provider=provider_name) if provider_name else llm)


async def _llm_pass(actor: Any, provider_name: str | None) -> dict[str, Any]:
    from insights.services_llm import llm_pass
    from personas.providers import close_provider

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
            click.echo(f"mined {p['messages']} new message(s) in {p['seconds']:.2f} s: {p['insights']} insight(s), "
                       f"{p['created']} new, {p['updated']} updated, {p['retired']} retired")


@insights_group.command(name="eval")
@click.option("--scenario", "scenario_file", required=True,
              help="Scenario file with truths (spec/scenario.md), or a built-in name such as meridian.")
@click.option("--agents", type=click.IntRange(min=1, max=100_000), default=1000, show_default=True,
              help="Scale the org chart to this many agents.")
@click.option("--rounds", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@click.option("--seed", type=int, default=None, help="Run seed (default: the scenario's seed, else 0).")
@click.option("--k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Cut-off rank.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"recall_at_k","precision_at_k","k","truths","found","insights"} only.')
@LLM_OPTION
@PROVIDER_OPTION
def eval_command(scenario_file: str, agents: int, rounds: int, seed: int | None, k: int, as_json: bool, llm: bool,
                 provider_name: str | None) -> None:
    """Simulate SCENARIO with the offline provider in a fresh temporary SQLite workspace, mine it, and score the
    insights a reader with the highest label sees against the scenario's truths (recall@k, precision@k)."""
    from personas.cli import _scenario

    scenario = _scenario(scenario_file)
    if not scenario.truths:
        click.echo(f"chorus: {scenario_file} has no truths to evaluate against; add a 'truths:' list", err=True)
        sys.exit(1)
    with tempfile.TemporaryDirectory(prefix="chorus-eval-") as tmp:
        conf = settings()
        conf = replace(conf, data_dir=Path(tmp), database=replace(conf.database,
                                                                  url=Secret(f"sqlite:///{tmp}/eval.db")))

        async def go(_: Database) -> dict[str, Any]:
            from channels import config
            from insights.services_eval import evaluate_scenario
            from personas import leakguard
            from workspace.hooks import hooks
            from workspace.services import ensure_workspace, system_actor

            config.configure(conf.limits)
            hooks.on("post.check", leakguard.check_post)
            actor = await system_actor(await ensure_workspace("eval", scenario.scheme), handle="eval")
            click.echo(f"simulating {scenario.name!r} with {agents} agents for {rounds} rounds...", err=True)
            if not llm:
                return await evaluate_scenario(actor, scenario, agents=agents, rounds=rounds, seed=seed, k=k)
            from personas.providers import close_provider

            provider = _provider(provider_name)
            try:
                return await evaluate_scenario(actor, scenario, agents=agents, rounds=rounds, seed=seed, k=k,
                                               llm_provider=provider)
            finally:
                await close_provider(provider)

        result = run_with_db(go, settings_=conf)
    spec = {key: result[key] for key in ("recall_at_k", "precision_at_k", "k", "truths", "found", "insights")}
    if as_json:
        click.echo(json.dumps(spec))
        return
    run = result["run"]
    click.echo(f"{scenario.name}: {run['messages']} messages from {run['agents']} agents in {run['rounds']} rounds; "
               f"{len(result['insights'])} insights")
    click.echo(f"recall@{k} {result['recall_at_k']:.2f}  precision@{k} {result['precision_at_k']:.2f}  "
               f"found {', '.join(result['found']) or 'none'} of {result['truths']}")
    if result.get("llm"):
        click.echo(f"LLM pass: {result['llm']['rewritten']} of {result['llm']['considered']} rewritten")
    for row in result["insights"][: max(k, 10)]:
        hit = row["truth"] or "-"
        click.echo(f"  {row['rank']:>3}. [{hit:>4}] {row['kind']:<11} {row['score']:.3f}  {row['title']}")


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
