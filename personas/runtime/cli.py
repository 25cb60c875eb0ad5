"""``chorus simulate``: load a scenario into a fresh workspace (a temporary SQLite database unless
``--database-url``), run R rounds with a progress bar on stderr, print a summary (``--json``: one object).
``chorus runs start|list|show|stop``: runs executed by the workers (or the embedded server), audited as the admin
API's. ``chorus demo``: load a scenario into the embedded SQLite default, start a paced run of a bounded number of
rounds and serve the app (more rounds: the Runs page or ``chorus runs start``).
The runtime's background job for ``chorus serve``/``chorus worker`` is wired in personas/runtime/domain.py.
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

from personas.cli import _as_system, _scenario, _workspace_option
from sso.pages import DEMO_HINT
from workspace.cli import run_with_db, serve_app, settings
from workspace.db import Database
from workspace.settings import Secret, Settings

DEMO_ROUNDS = 30
DEMO_INTERVAL_S = 5.0
"""The demo's run: 30 rounds 5 s apart (~2.5 minutes; the reading plan has every chunk read by round 5). With
1,000 offline agents it leaves ~1,000 messages and ~2,300 audit entries, then the machine is idle (README,
Performance: "demo pacing")."""


def runtime_options(conf: Settings, provider: Any) -> Any:
    """How this process runs turns: the concurrency limit, the answer-size estimate and its price (from the
    provider when given, else from CHORUS_LLM_PRICES for CHORUS_LLM_MODEL)."""
    from personas.llm.openai_compat import parse_prices
    from personas.runtime.runs import RunOptions

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
    from personas.context import leakguard
    from personas.llm import close_provider, make_provider
    from personas.runtime.runs import simulate
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


@click.command(name="demo")
@click.option("--scenario", "scenario_name", default="meridian", show_default=True,
              help="A scenario file, or the name of a built-in one (meridian, harbor).")
@click.option("--agents", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Scale the scenario's org chart to about this many agents.")
@click.option("--port", default=None, type=int, help="Port (default CHORUS_PORT, 8000).")
@click.option("--provider", type=click.Choice(["offline", "local"]), default="offline", show_default=True,
              help="offline: the deterministic writer; local: a real small model (needs the local-llm extra).")
@click.option("--rounds", default=DEMO_ROUNDS, show_default=True, type=click.IntRange(1, 10_000),
              help="Rounds the demo's run takes; then the agents wait until you start more (Runs page).")
@click.option("--interval", default=DEMO_INTERVAL_S, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between rounds, so that a small machine stays responsive.")
def demo_command(scenario_name: str, agents: int, port: int | None, provider: str, rounds: int,
                 interval: float) -> None:
    """Run the whole product on the embedded default: SQLite in the data dir, agents talking, insights mined.

    The agents talk for a bounded number of rounds, paced, then wait: start more from the Runs page. A second start
    reuses the data dir (nothing is loaded twice) and starts another run unless one is still going. Ctrl-C stops it
    cleanly.
    """
    from personas.runtime.runs import list_runs, start_run
    from personas.scenario import builtin_scenario, load_scenario
    from personas.services_load import load_scenario_into, load_steps
    from workspace.migrations import run_migrations
    from workspace.services import ensure_workspace, system_actor

    conf = settings()
    if not conf.database.is_sqlite:
        raise click.UsageError("chorus demo runs on the embedded SQLite default; unset CHORUS_DATABASE_URL")
    conf = replace(conf, server=replace(conf.server, host="127.0.0.1", port=port or conf.server.port,
                                        dev_login=True, run_workers_in_process=True),
                   llm=replace(conf.llm, provider=provider))
    path = Path(scenario_name) if Path(scenario_name).suffix in {".yaml", ".yml"} else builtin_scenario(scenario_name)
    scenario = load_scenario(path)

    async def prepare(_: Database) -> str:
        await run_migrations()
        actor = await system_actor(await ensure_workspace(), handle="demo")
        steps = load_steps(scenario, agents)
        with click.progressbar(length=steps, label=f"loading {scenario.name}", file=sys.stderr) as bar:
            report = await load_scenario_into(actor, scenario, agents, progress=lambda n: bar.update(n))
        runs = await list_runs(actor)
        if not any(r["status"] in {"pending", "running"} for r in runs):
            await start_run(actor, rounds=rounds, seed=scenario.seed, interval_s=interval, provider=provider,
                            scenario=scenario.name)
        return "\n".join(report.lines())

    summary = run_with_db(prepare, migrate=False, settings_=conf)
    url = f"http://127.0.0.1:{conf.server.port}/"
    click.echo(f"\n{summary}")
    click.echo(f"Open {url}")
    minutes = max(1, round(rounds * interval / 60))
    click.echo(f"  1. Sign in with the dev login. {DEMO_HINT}")
    click.echo(f"  2. Channels: the agents talk for {rounds} rounds, {interval:g} s apart (about {minutes} min), then "
               "wait: start more rounds on the Runs page.")
    click.echo("  3. Digest and Insights: risks and opportunities appear after the first mining pass (about a minute).")
    click.echo("  4. Agents: pick one and see exactly what it can read in each channel; Audit: verify the trail.")
    click.echo(f"Data lives in {conf.data_dir.resolve()}; Ctrl-C stops, a second start picks up where it left off.\n")
    serve_app(conf)


# -- runs -------------------------------------------------------------------------------------------------------

FINAL_EXIT = {"completed": 0, "stopped": 0, "over_budget": 0, "failed": 1}
"""``chorus runs show --wait``'s exit status per final status."""


@click.group(name="runs")
def runs_group() -> None:
    """Runs executed by the runtime's workers (chorus worker, or the server when embedded): start one, follow it,
    stop it. Each start and stop is audited, as through the admin API."""


@runs_group.command(name="start")
@click.option("--scenario", "scenario_file", default=None,
              help="Load this scenario file (or built-in name, e.g. meridian) into the workspace first (idempotent) "
                   "and record its name on the run; without it, the run uses the agents already loaded.")
@click.option("--agents", type=click.IntRange(min=1, max=100_000), default=None,
              help="With --scenario: scale its org chart to this many agents.")
@click.option("--rounds", type=click.IntRange(min=1, max=10_000), default=None,
              help="Rounds to run (default 10 unless --continuous).")
@click.option("--continuous", is_flag=True, help="Run until stopped, --interval seconds between rounds.")
@click.option("--interval", type=click.FloatRange(0, 3600), default=0.0, show_default=True)
@click.option("--seed", type=int, default=None, help="Run seed (default: the scenario's seed, else random).")
@click.option("--max-tokens", type=click.IntRange(min=0), default=None, help="Run budget: tokens in + out.")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, help="Run budget in US dollars.")
@_workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
def runs_start(scenario_file: str | None, agents: int | None, rounds: int | None, continuous: bool, interval: float,
               seed: int | None, max_tokens: int | None, max_cost: float | None, workspace: str,
               as_json: bool) -> None:
    """Record a pending run; a worker claims it within a second or so. Prints the run (its id first)."""
    from personas.runtime.runs import start_run
    from personas.services_load import load_scenario_into

    if agents is not None and scenario_file is None:
        raise click.UsageError("--agents scales a scenario: give --scenario too")
    scenario = _scenario(scenario_file) if scenario_file else None
    llm = settings().llm

    async def go(actor: Any) -> dict[str, Any]:
        if scenario is not None:
            await load_scenario_into(actor, scenario, agents)
        return await start_run(
            actor, rounds=None if continuous else (rounds or 10), continuous=continuous,
            seed=seed if seed is not None or scenario is None else scenario.seed, max_tokens=max_tokens,
            max_cost=max_cost, interval_s=interval, provider=llm.provider, model=llm.model,
            scenario=scenario.name if scenario is not None else "")

    run = _as_system(workspace, go)
    if as_json:
        click.echo(json.dumps(run, default=str))
        return
    click.echo(f"run {run['id']}: {run['status']}, {run['agents']} agents, "
               f"{'continuous' if run['mode'] == 'continuous' else str(run['rounds']) + ' rounds'}, seed {run['seed']}"
               f"{', scenario ' + run['scenario'] if run['scenario'] else ''}")


@runs_group.command(name="list")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@_workspace_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
def runs_list(limit: int, workspace: str, as_json: bool) -> None:
    """Runs, newest first: status, progress and counts."""
    from personas.runtime.runs import list_runs

    rows = _as_system(workspace, lambda actor: list_runs(actor, limit))
    for run in rows:
        click.echo(json.dumps(run, default=str) if as_json else _run_line(run))
    if not rows and not as_json:
        click.echo("no runs yet; start one with: chorus runs start --scenario meridian --agents 200 --rounds 3")


@runs_group.command(name="show")
@click.argument("run_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the run until it ends (a line per round on stderr); exit 1 when "
                                           "it failed.")
@_workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print the run, with its coverage, as one JSON object.")
def runs_show(run_id: int, wait: bool, workspace: str, as_json: bool) -> None:
    """One run: status, progress, counts, spend, quality and reading coverage."""
    import asyncio

    from personas.runtime.runs import FINAL, get_run

    async def go(actor: Any) -> dict[str, Any]:
        run = await get_run(actor, run_id)
        seen = -1
        while wait and run["status"] not in FINAL:
            if run["rounds_done"] != seen:
                seen = run["rounds_done"]
                click.echo(_run_line(run), err=True)
            await asyncio.sleep(1.0)
            run = await get_run(actor, run_id)
        return run

    run = _as_system(workspace, go)
    if as_json:
        click.echo(json.dumps(run, default=str))
    else:
        click.echo(_run_details(run))
    if wait:
        sys.exit(FINAL_EXIT.get(run["status"], 0))


@runs_group.command(name="stop")
@click.argument("run_id", type=int)
@_workspace_option
def runs_stop(run_id: int, workspace: str) -> None:
    """Ask a run to stop: it ends after the turns in progress (a pending run stops at once)."""
    from personas.runtime.runs import stop_run

    run = _as_system(workspace, lambda actor: stop_run(actor, run_id))
    click.echo(f"run {run['id']}: {'stopped' if run['status'] == 'stopped' else 'stop requested'}")


@runs_group.command(name="work")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Shards carried out at once (default CHORUS_RUNTIME_SHARD_CONCURRENCY, 2).")
def runs_work(concurrency: int | None) -> None:
    """Carry out the shards of any run's rounds from the queue (PostgreSQL), and nothing else: no planning, mining
    or digests. A worker to scale on queue depth; stop it with SIGTERM (its shards in progress go back to the
    queue)."""
    conf = settings()
    if not conf.database.is_postgres:
        raise click.ClickException("chorus runs work takes shards from the queue in PostgreSQL; with SQLite the "
                                   "process holding a run carries its shards out itself")

    async def go(_: Database) -> None:
        import asyncio
        import signal

        from channels import config
        from personas.context import leakguard
        from personas.llm import close_provider, make_provider
        from personas.runtime.queue import ShardQueue, stop_requested
        from personas.runtime.shards import Executor
        from workspace.hooks import hooks

        config.configure(conf.limits)
        hooks.on("post.check", leakguard.check_post)  # the leak guard applies to the shards' posts as to any other
        provider = make_provider(conf.llm)
        queue = ShardQueue(conf.database.url.reveal(), stall_s=conf.runtime.stall_s,
                           concurrency=concurrency or conf.runtime.shard_concurrency,
                           executor=Executor(provider, asyncio.Semaphore(max(1, conf.llm.concurrency)),
                                             stop_requested))
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        click.echo(f"carrying out shards (concurrency {queue.concurrency}); stop with SIGTERM", err=True)
        try:
            await queue.work()
        except asyncio.CancelledError:
            pass
        finally:
            await close_provider(provider)

    run_with_db(go, migrate=False, settings_=conf)


def _progress(run: dict[str, Any]) -> str:
    total = "continuous" if run["mode"] == "continuous" else str(run["rounds"])
    return f"round {run['rounds_done']}/{total}"


def _run_line(run: dict[str, Any]) -> str:
    return (f"run {run['id']}  {run['status']:<11} {_progress(run):<18} {run['agents']} agents  "
            f"{run['messages']} messages  {run['turns']} turns  {run['scenario'] or '-'}  seed {run['seed']}")


def _run_details(run: dict[str, Any]) -> str:
    lines = [f"run {run['id']}: {run['status']}, {_progress(run)}, scenario {run['scenario'] or '-'}, seed "
             f"{run['seed']}, {run['agents']} agents, provider {run['provider']}",
             f"  started {run['started_at'] or '-'}, finished {run['finished_at'] or '-'}",
             f"  turns {run['turns']}: {run['messages']} messages, {run['reactions']} reactions, {run['ignored']} "
             f"ignored, {run['blocked']} blocked, {run['over_budget']} over budget, {run['errors']} errors",
             f"  tokens {run['tokens_in']} in / {run['tokens_out']} out, cost ${run['cost']:.4f}"]
    if run["error"]:
        lines.append(f"  error: {run['error']}")
    if run["quality"]:
        lines.append("  quality: " + ", ".join(f"{k} {float(v):.3f}" for k, v in run["quality"].items()))
    cov = run.get("coverage") or {}
    if cov.get("chunks"):
        lines.append(f"  coverage: {cov['read']}/{cov['chunks']} chunks read, {cov['read_by_two_roles']} by two or "
                     "more roles")
        lines.extend(f"    {d['title'] or d['id']}: {d['read']}/{d['chunks']} read, {d['read_by_two_roles']} by two+"
                     for d in cov.get("documents", []))
    return "\n".join(lines)


COMMANDS = [simulate_command, runs_group, demo_command]
