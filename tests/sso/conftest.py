"""sso test fixtures: a clean token cache and an unshifted clock for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sso import clock, services_tokens


@pytest.fixture(autouse=True)
def _fresh_sso_state() -> Iterator[None]:
    clock.reset()
    services_tokens.forget_cached()
    yield
    clock.reset()
    services_tokens.forget_cached()
