"""The README's "Running against PostgreSQL and Redis" block, run as written: migrate, two web replicas on two
ports, one worker, ``chorus runs start``, ``chorus runs show --wait``. Only the database and broker URLs (this
machine's, a throwaway database) and the two ports (free ones) are swapped in; the rest is the README's text.

Needs CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL (skips without them, fails when they do not answer).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NO_POSTGRES, POSTGRES_URL
from tests.reliability.cluster import ROOT, free_port, throwaway_database

SECTION = "## Running against PostgreSQL and Redis"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the section has no sh block"
    return match.group(1)


def _as_here(block: str, database_url: str, broker_url: str, ports: list[int]) -> str:
    out = re.sub(r"^export CHORUS_DATABASE_URL=\S+", f"export CHORUS_DATABASE_URL={database_url}", block, flags=re.M)
    out = re.sub(r"^export CHORUS_BROKER_URL=\S+", f"export CHORUS_BROKER_URL={broker_url}", out, flags=re.M)
    written = [int(p) for p in re.findall(r"chorus serve --port (\d+)", out)]
    assert len(written) == 2, "the README starts two web replicas, each on its own port"
    for old, new in zip(written, ports, strict=True):
        out = out.replace(f"--port {old} ", f"--port {new} ")
    return out


def test_the_block_starts_with_the_settings_that_make_web_replicas_serve_only() -> None:
    block = readme_block()
    for needed in ("export CHORUS_RUN_WORKERS_IN_PROCESS=false", "chorus migrate", "chorus worker",
                   "chorus runs start", "chorus runs show 1 --wait"):
        assert needed in block


async def test_the_readme_scale_block_runs_as_written(redis_url: str, tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip(reason=NO_POSTGRES)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "chorus"  # the `chorus` of this checkout, whatever is installed
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from workspace.app import main; main()" "$@"\n')
    shim.chmod(0o755)
    ports = [free_port(), free_port()]
    checks = "\n".join(  # after the block: both replicas answer
        f"{sys.executable} -c \"import time, urllib.request as u\nfor _ in range(120):\n    try:\n"
        f"        u.urlopen('http://127.0.0.1:{p}/readyz', timeout=2); break\n    except Exception: time.sleep(0.5)\n"
        f"else: raise SystemExit('replica on {p} never became ready')\"\necho replica {p} ready" for p in ports)
    async with throwaway_database(POSTGRES_URL) as url:
        script = ("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
                  + _as_here(readme_block(), url, redis_url, ports) + checks + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
        env.update({"PATH": f"{bindir}:{env.get('PATH', '')}", "PYTHONPATH": str(ROOT),
                    "CHORUS_DATA_DIR": str(tmp_path / "data"), "CHORUS_LOG_LEVEL": "WARNING",
                    "PYTHONWARNINGS": "ignore"})
        done = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=900, check=False)
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{out[-3000:]}\n{done.stderr[-5000:]}"
    assert re.search(r"^run 1: pending, \d+ agents, 3 rounds", out, re.M), out
    assert "run 1: completed, round 3/3, scenario Meridian Medical Devices" in out, out
    assert re.search(r"turns \d+: [1-9]\d* messages", out) and "coverage:" in out, out
    assert all(f"replica {p} ready" in out for p in ports), out
