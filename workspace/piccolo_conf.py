"""Piccolo's configuration module: the app registry, and ``DB`` resolved lazily to the configured engine.

``DB`` is looked up at call time (PEP 562), so settings are never read at import time.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(
    apps=[
        "workspace.piccolo_app",
        "sso.piccolo_app",
        "channels.piccolo_app",
        "personas.piccolo_app",
        "insights.piccolo_app",
    ]
)


def __getattr__(name: str) -> Any:
    if name != "DB":
        raise AttributeError(name)
    from workspace import db

    if db._current is None:  # tooling such as `piccolo migrations new --auto`: use the environment's settings
        from workspace.settings import Settings

        return db.Database(Settings.from_env().database).engine
    return db._current.engine
