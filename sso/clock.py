"""The sso clock: wall time in seconds, shiftable by tests (session idle/absolute expiry, token last-use)."""

from __future__ import annotations

import datetime as dt
import time

_offset = 0.0


def now() -> float:
    """Seconds since the epoch, plus whatever a test advanced the clock by."""
    return time.time() + _offset


def now_dt() -> dt.datetime:
    return dt.datetime.fromtimestamp(now(), dt.UTC)


def advance(seconds: float) -> None:
    """Move the clock forward (tests only: expiry without sleeping)."""
    global _offset
    _offset += seconds


def reset() -> None:
    global _offset
    _offset = 0.0
