"""Reactions as people see them: emoji names (``thumbsup``, the names agents send) drawn as emoji, votes as arrows.

The pages render them with :func:`reaction_chips`; the live script receives :data:`EMOJI` in the page (one table,
not two). A name outside the table is shown as ``:name:``.
"""

from __future__ import annotations

from typing import Any

EMOJI: dict[str, str] = {
    "thumbsup": "\U0001F44D", "+1": "\U0001F44D", "thumbsdown": "\U0001F44E", "-1": "\U0001F44E",
    "eyes": "\U0001F440", "heart": "\u2764\ufe0f", "tada": "\U0001F389", "rocket": "\U0001F680",
    "white_check_mark": "\u2705", "heavy_check_mark": "\u2714\ufe0f", "x": "\u274C", "warning": "\u26A0\ufe0f",
    "fire": "\U0001F525", "100": "\U0001F4AF", "pray": "\U0001F64F", "clap": "\U0001F44F",
    "thinking_face": "\U0001F914", "thinking": "\U0001F914", "joy": "\U0001F602", "smile": "\U0001F604",
    "slightly_smiling_face": "\U0001F642", "raised_hands": "\U0001F64C", "bulb": "\U0001F4A1",
    "question": "\u2753", "exclamation": "\u2757", "memo": "\U0001F4DD", "chart_with_upwards_trend": "\U0001F4C8",
    "chart_with_downwards_trend": "\U0001F4C9", "moneybag": "\U0001F4B0", "rotating_light": "\U0001F6A8",
    "muscle": "\U0001F4AA", "wave": "\U0001F44B", "ok_hand": "\U0001F44C", "star": "\u2B50",
    "sparkles": "\u2728", "confused": "\U0001F615", "grimacing": "\U0001F62C", "see_no_evil": "\U0001F648",
}
VOTES = {"up": ("\u25B2", "up vote"), "down": ("\u25BC", "down vote")}


def reaction_chips(reactions: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``{symbol, name, count, label}`` for each reaction with a count: votes first, then emoji by name; ``label``
    is what a screen reader says ("thumbsup: 2")."""
    out: list[dict[str, Any]] = []
    r = reactions or {}
    for vote, (symbol, word) in VOTES.items():
        n = int(r.get(vote) or 0)
        if n:
            out.append({"symbol": symbol, "name": vote, "count": n, "label": f"{n} {word}{'' if n == 1 else 's'}"})
    for name, n in sorted((r.get("emoji") or {}).items()):
        if n:
            out.append({"symbol": EMOJI.get(name, f":{name}:"), "name": name, "count": int(n),
                        "label": f"{name.replace('_', ' ')}: {n}"})
    return out
