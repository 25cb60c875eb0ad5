"""Cross-domain hooks: how a lower package lets a higher one take part without importing it.

The composition root (``workspace/app.py``) registers the handlers; e.g. ``channels`` runs the ``post.check``
handlers (the leak guard from ``personas``) on every post, and ``sso`` emits ``session.ended`` that
``channels`` answers by closing that session's sockets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[..., Awaitable[Any]]


class Hooks:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def on(self, name: str, handler: Handler) -> None:
        if handler not in self._handlers[name]:
            self._handlers[name].append(handler)

    def off(self, name: str, handler: Handler) -> None:
        if handler in self._handlers.get(name, ()):
            self._handlers[name].remove(handler)

    async def emit(self, name: str, **kwargs: Any) -> list[Any]:
        """Call every handler of ``name`` in registration order; an exception propagates to the caller."""
        return [await handler(**kwargs) for handler in list(self._handlers.get(name, ()))]

    def has(self, name: str) -> bool:
        return bool(self._handlers.get(name))

    def clear(self) -> None:
        self._handlers.clear()


hooks = Hooks()
"""The process's hooks. Filled by the composition root; tests may ``clear()`` it."""
