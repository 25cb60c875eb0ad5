"""Conversation-quality metrics on small hand-made message records: each definition with a case that could fail."""

from __future__ import annotations

import pytest

from personas.quality import (
    ChannelContext,
    MessageRecord,
    duplicate_rate,
    flat_thread_share,
    measure,
    on_topic_rate,
    parents,
    reciprocity,
    speaker_share,
)
from workspace.text import NearDuplicateIndex, jaccard, shingles


def msg(i: int, author: str, body: str = "x", thread_of: int | None = None, reply_to: int | None = None,
        channel: str = "c") -> MessageRecord:
    return MessageRecord(id=i, channel=channel, author=author, body=body, thread_of=thread_of, reply_to=reply_to)


def test_reciprocity_counts_a_reply_answered_back_by_its_addressee() -> None:
    # B replies to A; A answers B back: 2 replies, the first reciprocated, the second not (B never answers).
    msgs = [msg(1, "a"), msg(2, "b", thread_of=1, reply_to=1), msg(3, "a", thread_of=1, reply_to=2)]
    assert reciprocity(msgs) == (0.5, 2)


def test_reciprocity_ignores_answers_to_someone_else_and_to_oneself() -> None:
    # B replies to A; A then replies to C, not to B; C replies to itself.
    msgs = [msg(1, "a"), msg(2, "b", thread_of=1, reply_to=1), msg(3, "c", thread_of=1, reply_to=1),
            msg(4, "a", thread_of=1, reply_to=3), msg(5, "c", thread_of=1, reply_to=3)]
    value, counted = reciprocity(msgs)
    assert counted == 3  # 2 (b->a), 3 (c->a), 4 (a->c); 5 is c answering itself
    assert value == pytest.approx(1 / 3)  # only c's reply got answered back by a


def test_reciprocity_needs_the_answer_later_in_the_same_thread() -> None:
    # A answers B in another thread: does not count.
    msgs = [msg(1, "a"), msg(2, "b", thread_of=1, reply_to=1), msg(3, "b"), msg(4, "a", thread_of=3, reply_to=3)]
    value, counted = reciprocity(msgs)
    assert counted == 2 and value == 0.0


def test_parent_is_inferred_from_a_mention_when_reply_to_is_unknown() -> None:
    msgs = [msg(1, "a"), msg(2, "b", thread_of=1), msg(3, "c", thread_of=1), msg(4, "a", "@b good point", thread_of=1)]
    assert parents(msgs) == {2: 1, 3: 1, 4: 2}
    assert reciprocity(msgs)[0] == pytest.approx(1 / 3)  # b's reply answered by a; c's and a's not


def test_flat_thread_share_counts_threads_where_nobody_answers_a_reply() -> None:
    msgs = [
        msg(1, "a"), msg(2, "b", thread_of=1, reply_to=1), msg(3, "c", thread_of=1, reply_to=1),  # flat
        msg(4, "a"), msg(5, "b", thread_of=4, reply_to=4), msg(6, "a", thread_of=4, reply_to=5),  # depth 2
        msg(7, "d"),  # no reply: not a thread
    ]
    assert flat_thread_share(msgs) == (0.5, 2)


def test_flat_thread_share_without_threads_is_one() -> None:
    assert flat_thread_share([msg(1, "a"), msg(2, "b")]) == (1.0, 0)


def test_on_topic_by_topic_word_or_two_document_words() -> None:
    channels = {"ops": ChannelContext("Warehouse scanners and shipping",
                                      ("The forklift fleet is serviced every Tuesday.",))}
    msgs = [
        msg(1, "a", "Our scanners keep dropping the wifi", channel="ops"),  # topic word (stemmed)
        msg(2, "a", "forklift fleet overdue?", channel="ops"),  # two document words
        msg(3, "a", "the forklift is blue", channel="ops"),  # one document word only
        msg(4, "a", "@warehouse-scanners-1 lunch?", channel="ops"),  # a mention is not content
        msg(5, "a", "scanners", channel="elsewhere"),  # unknown channel
    ]
    assert on_topic_rate(msgs, channels) == pytest.approx(2 / 5)


def test_duplicate_rate_flags_only_later_near_copies() -> None:
    base = "the reject rate for sensor lots rose from one percent in june to five percent in september"
    msgs = [
        msg(1, "a", base),
        msg(2, "b", base.replace("september", "october")),  # the last of 14 shingles changes: Jaccard 13/15
        msg(3, "c", "a completely different message about the lunch menu on friday afternoon"),
        msg(4, "d", base.replace("rose", "fell").replace("june", "may")),  # two edits: below 0.8
    ]
    assert jaccard(shingles(msgs[0].body), shingles(msgs[1].body)) >= 0.8
    assert jaccard(shingles(msgs[0].body), shingles(msgs[3].body)) < 0.8
    assert duplicate_rate(msgs) == pytest.approx(1 / 4)


def test_near_duplicate_index_is_exact_against_brute_force() -> None:
    import random

    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(30)]
    texts: list[str] = []
    for _ in range(300):
        if texts and rng.random() < 0.4:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 25))))
    index = NearDuplicateIndex(0.8)
    for i, t in enumerate(texts):
        sh = shingles(t)
        brute = any(jaccard(sh, shingles(texts[j])) >= 0.8 for j in range(i))
        assert (index.find(sh) is not None) == brute
        index.add(i, sh)


def test_speaker_share_and_measure() -> None:
    msgs = [msg(1, "a"), msg(2, "b", thread_of=1, reply_to=1)]
    assert speaker_share(msgs, 4) == 0.5
    q = measure(msgs, {"c": ChannelContext("x")}, 4)
    assert q.speakers == 2 and q.replies == 1 and q.threads == 1
    assert set(q.as_dict()) == {"reciprocity", "flat_thread_share", "on_topic_rate", "duplicate_rate", "speaker_share"}
