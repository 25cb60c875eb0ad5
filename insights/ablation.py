"""Ablations of an evaluation: a loaded scenario with one ingredient taken out before the run, so that the score
shows where discovery comes from. Without its documents a run has nothing to discover (recall must fall to 0.2 or
less); without the personas' traits, goals and concerns it must find as much (persona text shapes style and where
an agent speaks, never what it claims).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from personas.scenario import Scenario


def without_documents(scenario: Scenario) -> Scenario:
    """The scenario with no documents (its truths still name them: the funnel then shows nothing read)."""
    return replace(scenario, documents=())


def without_persona_text(scenario: Scenario) -> Scenario:
    """The scenario with every role's traits, goals and concerns emptied (channel topics stay)."""
    return replace(scenario, roles=tuple(replace(r, traits=(), goals=(), concerns=()) for r in scenario.roles))


ABLATIONS: dict[str, Callable[[Scenario], Scenario]] = {
    "documents": without_documents,
    "persona-text": without_persona_text,
}
"""What ``chorus insights eval --without`` can take out, by name."""


def ablate(scenario: Scenario, what: str) -> Scenario:
    """``scenario`` without ``what`` (a key of :data:`ABLATIONS`)."""
    try:
        return ABLATIONS[what](scenario)
    except KeyError:
        raise ValueError(f"no ablation {what!r}; choose one of {', '.join(ABLATIONS)}") from None
