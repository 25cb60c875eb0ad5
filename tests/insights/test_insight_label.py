"""An insight's label covers everything it stores and shows: the documents of every claim it holds (its shown
sources and the rest of its evidence) and the channels of every message it cites, not only the de-duplicated
sources its text is written from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from insights.issues import Issue, Source
from insights.services_store import _values
from personas.context.facts import facts
from personas.runtime.claims import Library
from workspace.labels import LabelScheme

SCHEME = LabelScheme(compartments=("finance",))
PUBLIC = SCHEME.label("public")
RESTRICTED = SCHEME.label("restricted", ["finance"])
CONFIDENTIAL = SCHEME.label("confidential")


def _source(doc: int, messages: list[int], text: str = "The crane CR-9 is out of service until 13 November.") -> Source:
    fact = facts(text + "\n")[0]
    return Source((str(doc), 0, fact.start, fact.end), f"doc {doc}", "ops", fact.text, fact, roles={"r"},
                  departments={"ops"}, channels={"c"}, messages=messages, said=len(messages))


def _place(channel: int, label: Any) -> dict[str, Any]:
    return {"channel": channel, "channel_name": f"ch{channel}", "seq": 1, "label_level": label.level,
            "label_mask": label.mask}


def _library() -> Library:
    return Library(SCHEME, labels={1: PUBLIC, 2: RESTRICTED, 3: PUBLIC})


def _label(values: dict[str, Any]) -> Any:
    return SCHEME.from_ints(int(values["label_level"]), int(values["label_mask"]))


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_label_covers_evidence_beyond_the_shown_sources() -> None:
    shown = _source(1, [10])
    hidden = _source(2, [20])  # a corroborating claim from a restricted document: stored as evidence, cited
    issue = Issue("k", "risk", [shown], members=[shown, hidden])
    places = {10: _place(100, PUBLIC), 20: _place(100, PUBLIC)}
    values = _values(SCHEME, issue, _library(), {}, places, {}, NOW)
    assert 20 in __import__("json").loads(values["evidence"])  # it is stored and shown ...
    assert _label(values).dominates(RESTRICTED), f"label {_label(values)} does not cover document 2 ({RESTRICTED})"


def test_the_label_covers_the_channels_of_cited_messages() -> None:
    shown = _source(1, [10, 11])
    issue = Issue("k", "risk", [shown], members=[shown])
    places = {10: _place(100, PUBLIC), 11: _place(200, CONFIDENTIAL)}  # a citation into a confidential channel
    values = _values(SCHEME, issue, _library(), {}, places, {}, NOW)
    assert _label(values).dominates(CONFIDENTIAL), f"label {_label(values)} does not cover channel ch200"


def test_a_public_insight_stays_public() -> None:
    shown = _source(1, [10])
    issue = Issue("k", "risk", [shown], members=[shown, _source(3, [12])])
    places = {10: _place(100, PUBLIC), 12: _place(100, PUBLIC)}
    assert _label(_values(SCHEME, issue, _library(), {}, places, {}, NOW)) == PUBLIC
