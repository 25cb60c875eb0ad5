"""2,000 WebSocket agents on two replicas (PostgreSQL + Redis), posting at a fixed rate and following their
channels: every acknowledged post is stored once and reaches every subscriber once, in a gap-free stream; the
audit trail verifies afterwards. Numbers are printed (the benchmark with the full duration is tests/bench/load.py).

CHORUS_RELIABILITY_DURATION_S sets the posting time (default 20 s).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.reliability.cluster import audit_verify
from tests.reliability.conftest import deployment
from tests.reliability.load import run_load

pytestmark = pytest.mark.slow
DURATION_S = float(os.environ.get("CHORUS_RELIABILITY_DURATION_S", "20"))
# A rate this 2-core machine sustains: 2,000 clients x one post per 100 s = 20 posts/s, 2,000 deliveries/s. The
# audit chain's one lock per commit caps a deployment near 40 posts/s here (see the README's performance section).
PERIOD_S = 100.0


async def test_two_thousand_agents_lose_and_duplicate_nothing(redis_url: str, tmp_path: Path) -> None:
    async with deployment(redis_url, tmp_path, agents=2000, channels=20) as dep:
        report = await run_load(database_url=dep.database_url, replicas=dep.web, clients=dep.clients,
                                period_s=PERIOD_S, duration_s=DURATION_S, workers=3, log_dir=tmp_path)
        verify = audit_verify(dep.env)
    print("load report:", json.dumps(report.summary()))
    assert report.problems == [], report.problems[:10]
    assert report.posts_attempted > 0 and report.posts_acked == report.posts_attempted
    # every post reached each of its channel's 100 subscribers exactly once
    assert report.deliveries == report.posts_acked * 100
    assert set(report.errors) <= {"timeout"}, report.errors
    assert verify["exit"] == 0 and verify["ok"] is True, verify
