"""``chorus simulate``: load a scenario into a fresh workspace (a temporary SQLite database unless
``--database-url``), run R rounds with a progress bar on stderr, print a summary (``--json``: one object).
The runtime's background job for ``chorus serve``/``chorus worker`` is wired in personas/domain.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from personas.cli import _scenario
from workspace.cli import run_with_db, settings
from workspace.db import Database
from workspace.settings import Secret, Settings


def runtime_options(conf: Settings, provider: Any) -> Any:
    """How this process runs turns: the concurrency limit, the answer-size estimate and its price (from the
    provider when given, else from CHORUS_LLM_PRICES for CHORUS_LLM_MODEL)."""
    from personas.providers.openai_compat import parse_prices
    from personas.runtime_runs import RunOptions

    price = getattr(provider, "price", None)
    if not callable(price):
        table = parse_prices(conf.llm.prices).get(conf.llm.model)
        price = table.cost if table is not None and conf.llm.provider == "openai" else (lambda tin, tout: 0.0)
    return RunOptions(concurrency=conf.llm.concurrency, max_out_tokens=int(getattr(provider, "max_tokens", 160)),
                      estimate_cost=price)


@click.command(name="simulate")
@click.option("--scenario", "scenario_file", required=True,
              help="Scenario file (spec/scenario.md), or a built-in name such as meridian.")
@click.option("--agents", type=click.IntRange(min=1, max=100_000), default=None,
              help="Scale the org chart to this many agents (default: the file's counts).")
@click.option("--rounds", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@click.option("--seed", type=int, default=None, help="Run seed (default: the scenario's seed, else 0).")
@click.option("--provider", type=click.Choice(["offline", "openai", "local"]), default=None,
              help="LLM provider (default CHORUS_LLM_PROVIDER, offline).")
@click.option("--database-url", default=None,
              help="Use this database (a new workspace in it) instead of a temporary SQLite file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate_command(scenario_file: str, agents: int | None, rounds: int, seed: int | None, provider: str | None,
                     database_url: str | None, as_json: bool) -> None:
    """Run a simulation of SCENARIO for R rounds and report counts, spend and conversation quality."""
    scenario = _scenario(scenario_file)
    conf = settings()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if database_url:
        conf = replace(conf, database=replace(conf.database, url=Secret(database_url))).resolved()
    else:
        tmp = tempfile.TemporaryDirectory(prefix="chorus-simulate-")
        conf = replace(conf, data_dir=Path(tmp.name),
                       database=replace(conf.database, url=Secret(f"sqlite:///{tmp.name}/simulate.db")))
    conf = replace(conf, llm=replace(conf.llm, provider=provider or conf.llm.provider))
    try:
        summary = run_with_db(lambda db: _simulate(db, conf, scenario, agents, rounds, seed, fresh=tmp is None),
                              settings_=conf)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if as_json:
        click.echo(json.dumps(summary.as_json()))
        return
    q = summary.quality
    click.echo(f"run {summary.run_id}: {summary.status}, {summary.agents} agents, {summary.rounds} rounds in "
               f"{summary.wall_s:.1f} s")
    click.echo(f"  turns {summary.turns}: {summary.messages} messages, {summary.reactions} reactions, "
               f"{summary.ignored} ignored, {summary.blocked} blocked, {summary.over_budget} over budget, "
               f"{summary.errors} errors")
    click.echo(f"  tokens {summary.tokens_in} in / {summary.tokens_out} out, cost ${summary.cost:.4f}")
    click.echo("  quality: " + ", ".join(f"{k} {v:.3f}" for k, v in q.items()))


async def _simulate(db: Database, conf: Settings, scenario: Any, agents: int | None, rounds: int, seed: int | None,
                    *, fresh: bool) -> Any:
    from channels import config
    from personas import leakguard
    from personas.providers import close_provider, make_provider
    from personas.runtime_runs import simulate
    from workspace.hooks import hooks
    from workspace.services import ensure_workspace, system_actor

    config.configure(conf.limits)
    hooks.on("post.check", leakguard.check_post)  # the leak guard applies to simulated posts as to any other
    name = "simulate" if not fresh else f"simulate-{uuid.uuid4().hex[:8]}"
    actor = await system_actor(await ensure_workspace(name), handle="simulate")
    provider = make_provider(conf.llm)
    size = agents or scenario.agents
    click.echo(f"loading {scenario.name!r} with {size} agents...", err=True)
    try:
        with click.progressbar(length=rounds, label="simulating", file=sys.stderr, show_pos=True) as bar:
            def progress(done: int, total: int) -> None:
                bar.update(1)

            return await simulate(actor, scenario, agents, rounds, seed, provider, progress,
                                  options=runtime_options(conf, provider))
    finally:
        await close_provider(provider)


COMMANDS = [simulate_command]
