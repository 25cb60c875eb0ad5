"""The runtime's near-duplicate rate (rarest shingles first) gives exactly personas.quality's result, and past its
exact limit checks a regular sample of messages against all earlier ones."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personas import quality
from personas.quality import MessageRecord
from personas.runtime import quality as runtime_quality
from personas.runtime.quality import duplicate_rate
from workspace import text

_TEMPLATES = ("I agree with {a} about the {b} at {c}, we should check it", "Has anyone looked at {b} and {c} yet?",
              "{a}: the {b} backlog at {c} worries me more than the {a} numbers")
_WORDS = ("pump", "valve", "ps-40", "supplier", "audit", "q3", "margin", "plant", "latency", "warranty", "line 2")


def _messages(seed: int, n: int) -> list[MessageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = rng.choice(_TEMPLATES).format(a=rng.choice(_WORDS), b=rng.choice(_WORDS), c=rng.choice(_WORDS))
        if rng.random() < 0.5:
            body += " " + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 6)))
        out.append(MessageRecord(id=i + 1, channel="c", author=f"a{i % 7}", body=body, order=rng.randint(0, 10 * n)))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=120))
def test_same_rate_as_the_reference_on_template_chatter(seed: int, n: int) -> None:
    messages = _messages(seed, n)
    assert duplicate_rate(messages) == quality.duplicate_rate(messages)


def test_it_counts_near_duplicates_of_earlier_messages_only() -> None:
    base = "the ps-40 pump supplier slipped again and the q3 margin at plant two will take the hit"
    messages = [MessageRecord(id=1, channel="c", author="a", body=base, order=2),
                MessageRecord(id=2, channel="c", author="b", body=base + " today", order=1),
                MessageRecord(id=3, channel="c", author="c", body="something else entirely about warranty", order=3)]
    assert duplicate_rate(messages) == quality.duplicate_rate(messages) == 1 / 3


def test_past_the_exact_limit_every_kth_message_is_checked_against_all_earlier_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = sorted(_messages(3, 90), key=lambda m: m.created)
    # every 5th message repeats an earlier one: near-duplicates to find
    messages = [replace(m, body=base[i // 2].body) if i % 5 == 4 else m for i, m in enumerate(base)]
    monkeypatch.setattr(runtime_quality, "EXACT_UP_TO", 30)  # 90 messages: every 3rd one is checked
    sampled = [i for i in range(len(messages)) if i % 3 == 0]
    expected = [
        any(text.jaccard(text.shingles(messages[i].body), text.shingles(messages[j].body)) >= 0.8
            for j in range(i)) for i in sampled]
    assert any(expected) and not all(expected)
    assert duplicate_rate(messages) == sum(expected) / len(sampled)
