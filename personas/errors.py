"""Errors specific to personas: the leak guard's refusal."""

from __future__ import annotations

from workspace.errors import Forbidden


class LeakBlocked(Forbidden):
    """A post repeats text from a document the channel may not carry. The message names the label, never the
    content (repeating it would leak it into logs and error frames)."""

    code = "leak_blocked"
    title = "Blocked: the post would leak context"
