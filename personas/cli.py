"""``chorus scenario check|load``, ``chorus agents token|list|kill|revive``, ``chorus context ingest|canary|search``.

Thin: each command opens the database with :func:`workspace.cli.run_with_db` and calls the personas services as
the system actor of the chosen workspace.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from personas.scenario import Scenario, ScenarioError, builtin_scenario, load_scenario
from workspace.actor import Actor
from workspace.cli import run_with_db
from workspace.db import Database
from workspace.errors import ValidationFailed
from workspace.services import DEFAULT_WORKSPACE, ensure_workspace, system_actor

T = TypeVar("T")
_workspace_option = click.option("--workspace", "workspace", default=DEFAULT_WORKSPACE, show_default=True,
                                  help="Workspace name (created when missing).")


def _as_system(workspace: str, fn: Callable[[Actor], Awaitable[T]]) -> T:
    async def go(_: Database) -> T:
        ws = await ensure_workspace(workspace)
        return await fn(await system_actor(ws, handle="cli"))

    return run_with_db(go)


def _scenario(file: str) -> Scenario:
    """Read and check a scenario file (or a built-in name such as ``meridian``); problems exit with status 1."""
    path = Path(file)
    if not path.exists() and "/" not in file and not file.endswith((".yaml", ".yml")):
        try:
            path = builtin_scenario(file)
        except ValidationFailed as exc:
            click.echo(f"chorus: {file}: no such file, and {exc.message}", err=True)
            sys.exit(1)
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''}; nothing was loaded", err=True)
        sys.exit(1)


# -- scenario ---------------------------------------------------------------------------------------------------

@click.group(name="scenario")
def scenario_group() -> None:
    """Check and load scenario files (org chart, channels, documents; spec/scenario.md)."""


@scenario_group.command(name="check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the warnings as one JSON object.")
def scenario_check(file: str, as_json: bool) -> None:
    """Validate FILE and print a summary; every problem is printed as file:line: key: message (exit 1). Warnings
    (a truth's match term written into persona text or a channel topic) are printed too, and leave the exit code 0."""
    sc = _scenario(file)
    summary = sc.summary()
    if as_json:
        warnings = [{"location": f"{w.file}:{w.line}", "field": w.path, "message": w.message} for w in sc.warnings]
        click.echo(json.dumps({**summary, "warnings": warnings}))
        return
    for warning in sc.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{sc.source}: OK: {sc.name!r}")
    click.echo(f"  labels:    {', '.join(sc.scheme.tiers)}; compartments {', '.join(sc.scheme.compartments) or '-'}")
    click.echo(f"  roles:     {summary['roles']} in {summary['departments']} departments, {summary['agents']} agents")
    for role in sc.roles:
        click.echo(f"    {role.count:>6}  {role.role} ({role.department}, {role.label}) -> {role.handle_prefix}-0001")
    click.echo(f"  channels:  {summary['channels']}")
    for ch in sc.channels:
        click.echo(f"    {ch.name} ({ch.label}): {sum(r.count for r in sc.role_members(ch))} agents")
    click.echo(f"  documents: {summary['documents']}")
    click.echo(f"  truths:    {summary['truths']}")
    if sc.warnings:
        click.echo(f"  warnings:  {len(sc.warnings)} (on stderr)")


@scenario_group.command(name="load")
@click.argument("file")
@click.option("--agents", type=click.IntRange(min=1), default=None,
              help="Scale every role's count to this total (each role keeps at least 1).")
@_workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def scenario_load(file: str, agents: int | None, workspace: str, as_json: bool) -> None:
    """Create FILE's labels, agents, channels, memberships and documents; running it again adds only what is
    missing."""
    from personas.services_load import LoadReport, load_scenario_into, load_steps

    sc = _scenario(file)
    steps = load_steps(sc, agents)

    async def go(actor: Actor) -> LoadReport:
        show = (steps >= 2000 and sys.stderr.isatty()) or steps >= 20000
        if not show:
            return await load_scenario_into(actor, sc, agents)
        with click.progressbar(length=steps, label=f"loading {sc.name}", file=sys.stderr) as bar:
            return await load_scenario_into(actor, sc, agents, progress=bar.update)

    report = _as_system(workspace, go)
    click.echo(json.dumps(report.as_dict()) if as_json else "\n".join(report.lines()))


# -- agents -----------------------------------------------------------------------------------------------------

@click.group(name="agents")
def agents_group() -> None:
    """Agents: tokens, listing, kill switch."""


@agents_group.command(name="token")
@click.argument("handle")
@_workspace_option
def agents_token(handle: str, workspace: str) -> None:
    """Print a fresh token for agent HANDLE (its previous tokens stop working). Shown once: store it now."""
    from personas.services_agents import agent_by_handle
    from sso.services_tokens import issue_agent_token

    async def go(actor: Actor) -> str:
        agent = await agent_by_handle(actor, handle)
        return await issue_agent_token(actor, int(agent["member_id"]))

    click.echo(_as_system(workspace, go))


@agents_group.command(name="list")
@click.option("--role", default=None, help="Only this role.")
@click.option("--department", default=None, help="Only this department.")
@click.option("--after", type=int, default=0, help="Member id to continue after (paging).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@_workspace_option
def agents_list(role: str | None, department: str | None, after: int, limit: int, workspace: str) -> None:
    """List agents (member id, handle, role, department, label, on/off)."""
    from personas.services_agents import page_agents

    async def go(actor: Actor) -> list[dict[str, Any]]:
        return await page_agents(actor.workspace_id, after=after, limit=limit, role=role, department=department)

    for a in _as_system(workspace, go):
        click.echo(f"{a['member_id']:>7}  {a['handle']:<40} {a['role']:<28} {a['department']:<16} "
                   f"{'on' if a['active'] else 'OFF'}")


def _scope_options(fn: Callable[..., None]) -> Callable[..., None]:
    fn = click.option("--department", default=None, help="Every agent of this department.")(fn)
    fn = click.option("--role", default=None, help="Every agent of this role.")(fn)
    return click.option("--agent", default=None, help="One agent, by handle.")(fn)


@agents_group.command(name="kill")
@_scope_options
@click.option("--reason", default="", help="Why (recorded in the audit trail).")
@_workspace_option
def agents_kill(agent: str | None, role: str | None, department: str | None, reason: str, workspace: str) -> None:
    """Switch agents off now: tokens refused, sockets closed, runtime skips them. Give one of the options."""
    from personas.services_control import kill

    async def go(actor: Actor) -> Any:
        return await kill(actor, agent=agent, role=role, department=department, reason=reason)

    result = _as_system(workspace, go)
    click.echo(f"kill switch {result.switch_id} on {result.scope} {result.target!r}: {result.members} agent(s) "
               "switched off")


@agents_group.command(name="revive")
@_scope_options
@_workspace_option
def agents_revive(agent: str | None, role: str | None, department: str | None, workspace: str) -> None:
    """Turn a kill switch off (agents another switch still covers stay off)."""
    from personas.services_control import revive

    async def go(actor: Actor) -> Any:
        return await revive(actor, agent=agent, role=role, department=department)

    result = _as_system(workspace, go)
    click.echo(f"{result.scope} {result.target!r}: {result.members} agent(s) switched back on")


# -- context ----------------------------------------------------------------------------------------------------

@click.group(name="context")
def context_group() -> None:
    """Business context: ingest documents, plant canaries, search as an agent."""


@context_group.command(name="ingest")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--label", required=True, help="The documents' label, e.g. internal/ops or confidential/finance.")
@_workspace_option
def context_ingest(directory: Path, label: str, workspace: str) -> None:
    """Ingest every .md / .txt file under DIRECTORY (recursive) with LABEL; unchanged files are skipped."""
    from personas.context.documents import IngestResult, ingest_documents, read_folder

    async def go(actor: Actor) -> list[IngestResult]:
        return await ingest_documents(actor, read_folder(directory, actor.scheme.parse(label)))

    results = _as_system(workspace, go)
    for r in results:
        click.echo(f"{'ingested' if r.created else 'unchanged'}  #{r.document_id}  {r.title} ({r.label}, "
                   f"{r.chunks} chunks)")
    click.echo(f"{sum(r.created for r in results)} ingested, {sum(not r.created for r in results)} already there")


@context_group.command(name="canary")
@_workspace_option
def context_canary(workspace: str) -> None:
    """Plant a unique canary marker in a document of every label (once); print them all."""
    from personas.context.documents import plant_canaries

    for c in _as_system(workspace, plant_canaries):
        click.echo(f"{c['label']:<40} document #{c['document']:<6} {c['marker']}")


@context_group.command(name="search")
@click.argument("query")
@click.option("--agent", "handle", required=True, help="Search as this agent (its label applies).")
@click.option("--channel", required=True, help="In this channel (its label applies too).")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@_workspace_option
def context_search(query: str, handle: str, channel: str, limit: int, workspace: str) -> None:
    """What agent HANDLE would retrieve for QUERY in CHANNEL (audited as that agent's context read)."""
    from channels.services import access_channel
    from personas.context.retrieval import Chunk, retrieve
    from workspace.services import actor_for_member, get_member_by_handle

    async def go(actor: Actor) -> list[Chunk]:
        agent = await actor_for_member(await get_member_by_handle(actor.workspace_id, handle))
        return await retrieve(agent, query, await access_channel(actor, channel), limit)

    for c in _as_system(workspace, go):
        snippet = " ".join(c.text.split())[:160]
        click.echo(f"{c.score:8.3f}  #{c.document_id} {c.title} ({c.label}): {snippet}")


COMMANDS: list[click.Command] = [scenario_group, agents_group, context_group]
