"""The ``chorus`` command line: the root group and the core commands (migrate, serve, worker, audit, config).

Domain packages add their own commands through ``DomainParts.cli_commands``; they use :func:`run_with_db` and
:func:`settings` from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from workspace import audit
from workspace.db import Database
from workspace.domain import Standalone
from workspace.errors import ChorusError
from workspace.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)
_state: dict[str, Any] = {}


def configure(settings_: Settings, app_factory: Callable[..., Any],
              worker: Callable[[Settings], Awaitable[int]] | None = None) -> None:
    _state["settings"] = settings_
    _state["app_factory"] = app_factory
    _state["worker"] = worker


def use_standalone(parts: Sequence[Standalone]) -> None:
    """What every command run by :func:`run_with_db` keeps running while it works (the domains'
    ``DomainParts.standalone``, wired by the composition root): the broker publisher, so that a command's events
    and hooks reach the web replicas."""
    _state["standalone"] = list(parts)


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = Settings.from_env()
    value: Settings = _state["settings"]
    return value


def app_factory() -> Callable[..., Any]:
    factory: Callable[..., Any] = _state["app_factory"]
    return factory


def run_with_db(fn: Callable[[Database], Awaitable[T]], *, migrate: bool = True,
                settings_: Settings | None = None, publish: bool = True, seal: bool = True) -> T:
    """Open the configured database (applying migrations first unless told not to), run ``fn``, close it.

    With ``publish`` (the default) ``fn`` runs inside the domains' standalone parts (:func:`use_standalone`), so what
    it publishes or emits (posts, a kill switch) reaches the web replicas through the broker; ``chorus migrate``
    needs no broker and passes False. ``seal``: seal the audit entries pending at the end (what the command recorded
    joins the chain before the process exits); a read-only command (``audit verify``) passes False. Domain errors are
    printed as one clear line and exit with status 1.
    """
    from workspace.migrations import run_migrations

    conf = (settings_ or settings()).ensure_secret_key()
    parts: list[Standalone] = list(_state.get("standalone", ())) if publish else []

    async def go() -> T:
        db = Database(conf.database)
        await db.start()
        try:
            if migrate:
                await run_migrations()
            async with contextlib.AsyncExitStack() as stack:
                for part in parts:
                    await stack.enter_async_context(part(conf))
                result = await fn(db)
            if seal:
                await audit.seal_all()  # what this command recorded joins the chain before the process exits
            return result
        finally:
            await db.stop()

    try:
        return asyncio.run(go())
    except ChorusError as exc:
        click.echo(f"chorus: {exc.message}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def root() -> None:
    """Chorus: a self-hosted workspace for role-scoped AI agents.

    Configuration comes from CHORUS_* environment variables (see the README).
    """


@root.command()
def migrate() -> None:
    """Apply every pending database migration (SQLite or PostgreSQL, from CHORUS_DATABASE_URL)."""
    from workspace.migrations import run_migrations

    async def go(_: Database) -> list[str]:
        return await run_migrations()

    applied = run_with_db(go, migrate=False, publish=False)
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "; up to date"))


@root.command()
@click.option("--host", default=None, help="Bind address (default CHORUS_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default CHORUS_PORT, 8000).")
@click.option("--migrate/--no-migrate", "do_migrate", default=False, help="Apply migrations before serving.")
def serve(host: str | None, port: int | None, do_migrate: bool) -> None:
    """Run the web process (HTTP API, WebSockets, UI)."""
    from dataclasses import replace

    conf = settings()
    server = replace(conf.server, host=host or conf.server.host, port=port or conf.server.port)
    conf = replace(conf, server=server)
    if do_migrate:
        from workspace.migrations import run_migrations

        async def go(_: Database) -> list[str]:
            return await run_migrations()

        run_with_db(go, migrate=False, settings_=conf, publish=False)
    serve_app(conf)


def serve_app(conf: Settings) -> None:
    """Run uvicorn on the app with WebSocket compression off (it halves throughput; see STACK.md) and direct
    fan-out writes (:mod:`workspace.wsdirect`).

    On SIGTERM/SIGINT uvicorn stops accepting, closes WebSockets with 1012 (service restart; clients resume after
    their last ``seq``), waits up to ``CHORUS_SHUTDOWN_GRACE_S`` for requests in flight, runs the app's shutdown
    (which gets what is left of that time) and the process exits with status 0.
    """
    import math

    import uvicorn

    from workspace.wsdirect import uvicorn_options

    app = app_factory()(conf)
    config = uvicorn.Config(
        app, host=conf.server.host, port=conf.server.port, **uvicorn_options(),
        log_level=conf.log_level.lower(), lifespan="on",
        # uvicorn reads 0 as "wait forever", so a sub-second grace rounds up to 1 s.
        timeout_graceful_shutdown=max(1, math.ceil(conf.server.shutdown_grace_s)))
    graceful_server(config).run()


def freeze_startup_heap() -> int:
    """Take what start-up built (modules, the app, its routes, schema and caches: ~140,000 objects) out of the
    cyclic garbage collector's view, and return how many objects that was.

    Those objects live as long as the process, yet every full collection walked all of them while holding the
    GIL: a pause of ~100 ms for every WebSocket of the process, which is what a paced fan-out's p99 showed
    (`tests/bench/fanout.py`: 23-50 ms before, 16-22 ms after, when the pause is ~12 ms for the garbage of 200
    connections' handshakes). The cost is that a cycle made only of start-up objects is never freed; start-up
    objects do not die before the process."""
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def graceful_server(config: Any) -> Any:
    """uvicorn's Server, except that a graceful stop on a signal exits 0 (uvicorn re-raises the signal afterwards,
    so the process would die of it: status 143, which Kubernetes and CI read as a crash), that the app learns
    when the signal came (``app.state.shutdown_requested_at``) to fit its shutdown in the rest of the grace time,
    and that a process serving on its main thread freezes its start-up heap (:func:`freeze_startup_heap`) once
    the app's start-up has run, before the first connection."""
    import contextlib
    import signal
    import socket
    import threading
    import time
    from collections.abc import Iterator
    from types import FrameType

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            state = getattr(self.config.app, "state", None)
            if state is not None and "shutdown_requested_at" not in state:
                state["shutdown_requested_at"] = time.monotonic()
            super().handle_exit(sig, frame)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if threading.current_thread() is threading.main_thread():
                log.debug("froze %d start-up objects out of the garbage collector's view", freeze_startup_heap())

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)


@root.command()
@click.option("--migrate/--no-migrate", "do_migrate", default=False, help="Apply migrations before starting.")
def worker(do_migrate: bool) -> None:
    """Run the background jobs (agent runtime, mining, digests) without the web server, until SIGTERM/SIGINT.

    For deployments with CHORUS_RUN_WORKERS_IN_PROCESS=false on the web process. Exits 0 after a signal, 1 when a
    job fails.
    """

    runner = _state.get("worker")
    if runner is None:
        raise click.UsageError("the worker is not wired; run it as `chorus worker` (workspace.app.main)")
    conf = settings().ensure_secret_key()
    logging.basicConfig(level=conf.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if do_migrate:
        from workspace.migrations import run_migrations

        async def go(_: Database) -> list[str]:
            return await run_migrations()

        run_with_db(go, migrate=False, settings_=conf, publish=False)
    try:
        code = asyncio.run(runner(conf))
    except ChorusError as exc:
        click.echo(f"chorus: {exc.message}", err=True)
        sys.exit(1)
    sys.exit(code)


@root.group(name="audit")
def audit_group() -> None:
    """Verify, checkpoint and export the tamper-evident audit trail."""


@audit_group.command(name="verify")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint file from `chorus audit checkpoint`; detects a truncated trail.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def audit_verify(checkpoint_path: Path | None, as_json: bool) -> None:
    """Walk the hash chain; exit non-zero when any entry was modified, deleted, inserted, reordered or truncated, or
    is not sealed. Read-only: sealing is the sealer's job (``chorus serve``, ``chorus worker``)."""
    checkpoint = None
    if checkpoint_path is not None:
        try:
            checkpoint = json.loads(checkpoint_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{checkpoint_path} is not a checkpoint JSON file: {exc}") from None
    key = audit_key(settings())

    async def go(_: Database) -> audit.VerifyResult:
        return await audit.verify(checkpoint, key)

    result = run_with_db(go, migrate=False, publish=False, seal=False)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    elif result.ok:
        click.echo(f"audit trail OK: {result.events} events, chain intact")
    elif result.first_bad_seq is None and result.unsealed:
        click.echo(f"audit trail NOT VERIFIED: {result.events} sealed events intact, but {result.reason}")
    else:
        click.echo(f"audit trail BROKEN at seq {result.first_bad_seq}: {result.reason}")
    sys.exit(0 if result.ok else 1)


@audit_group.command(name="checkpoint")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write the signed checkpoint to (keep it outside the database's reach).")
def audit_checkpoint(out: Path) -> None:
    """Sign the current end of the chain (HMAC-SHA256 with the audit key) and write it to a file."""
    key = audit_key(settings())

    async def go(_: Database) -> dict[str, Any]:
        return await audit.make_checkpoint(key)

    checkpoint = run_with_db(go, migrate=False)
    out.write_text(json.dumps(checkpoint, indent=2) + "\n")
    click.echo(f"checkpoint at seq {checkpoint['seq']} written to {out}")


@audit_group.command(name="export")
@click.option("--jsonl", "fmt", flag_value="jsonl", default=True, help="One JSON object per line (default).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with flattened columns.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: standard output).")
def audit_export(fmt: str, out: Path | None) -> None:
    """Write the whole trail, oldest first (every workspace; labels by name). The export is itself audited, as an
    entry of the default workspace that the export includes."""
    from workspace.audit import Entity
    from workspace.services import ensure_workspace, get_scheme, system_actor

    stream = out.open("w", newline="") if out else sys.stdout

    async def go(database: Database) -> int:
        cli = await system_actor(await ensure_workspace(), handle="cli")
        async with database.transaction():
            await audit.record(cli, "audit.exported", Entity("audit", "all"),
                               {"format": fmt, "to": str(out) if out else "stdout", "via": "cli"})
        count = 0
        writer = csv.writer(stream) if fmt == "csv" else None
        if writer:
            writer.writerow(CSV_COLUMNS)
        await audit.seal_all()
        schemes: dict[int, Any] = {}
        async for row in audit.iter_events():
            ws = row["workspace_id"]
            if ws is not None and ws not in schemes:
                schemes[ws] = await get_scheme(int(ws))
            item = audit.export_row(row, schemes.get(ws))
            if writer:
                writer.writerow(csv_row(item))
            else:
                stream.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
        return count

    try:
        count = run_with_db(go, migrate=False)
    finally:
        if out:
            stream.close()
    if out:
        click.echo(f"wrote {count} audit events to {out}", err=True)


CSV_COLUMNS = ["id", "date", "workspace_id", "action", "actor_type", "actor_id", "actor_handle", "on_behalf_of",
               "entity_type", "entity_id", "ip", "user_agent", "session_id", "request_id", "details", "hash", "label"]


def csv_row(item: dict[str, Any]) -> list[Any]:
    ctx = item["context"]
    return [item["id"], item["date"], item["workspace_id"], item["action"], item["actor"]["type"],
            item["actor"]["id"], item["actor"]["handle"], item["actor"]["on_behalf_of"] or "",
            item["entity"]["type"], item["entity"]["id"], ctx.get("ip", ""), ctx.get("user_agent", ""),
            ctx.get("session_id", ""), ctx.get("request_id", ""), json.dumps(item["details"], ensure_ascii=False),
            item["hash"], item.get("label", "")]


def audit_key(conf: Settings) -> bytes:
    """The checkpoint signing key: CHORUS_AUDIT_KEY, else one derived from the secret key."""
    import hashlib

    conf = conf.ensure_secret_key()
    if conf.audit_key:
        return conf.audit_key.reveal().encode()
    return hashlib.sha256(b"chorus-audit-checkpoint:" + conf.secret_key.reveal().encode()).digest()


@root.command(name="config")
def show_config() -> None:
    """Print the effective configuration, secrets masked."""
    click.echo(json.dumps(settings().describe(), indent=2))
