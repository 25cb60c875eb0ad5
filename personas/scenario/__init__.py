"""Scenario files: parse and check them into a :class:`Scenario` (no database, no network), and the scenarios that
ship with Chorus (``builtin/``). Dataclasses in :mod:`.model`, line-tracking YAML and shape checks in :mod:`.reader`,
the entry points in :mod:`.parse` and the rules of each section in ``check_<section>``. Loading a checked scenario into
a workspace is :mod:`personas.services_load`.
"""

from personas.scenario.model import ChannelSpec, Document, Role, Scenario, Truth, TruthKind, handle_prefix, scale_counts
from personas.scenario.parse import BUILTIN_DIR, builtin_names, builtin_scenario, load_scenario, parse_scenario
from personas.scenario.reader import Problem, ScenarioError

__all__ = [
    "BUILTIN_DIR",
    "ChannelSpec",
    "Document",
    "Problem",
    "Role",
    "Scenario",
    "ScenarioError",
    "Truth",
    "TruthKind",
    "builtin_names",
    "builtin_scenario",
    "handle_prefix",
    "load_scenario",
    "parse_scenario",
    "scale_counts",
]
