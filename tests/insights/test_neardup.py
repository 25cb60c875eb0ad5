"""The mining hot path's data structures: the LSH near-duplicate index against the exact one, and a miner's window
(trim) keeping its themes, index and counts consistent with the messages it still holds.
"""

from __future__ import annotations

import random

from insights.neardup import LshDuplicateIndex
from insights.pipeline import Miner
from personas.quality import MessageRecord, NearDuplicateIndex, jaccard, shingles
from workspace.labels import LabelScheme

WORDS = [
    "pump", "valve", "line", "sensor", "supplier", "batch", "firmware", "battery", "reboot", "clinic",
    "contract", "renewal", "lot", "inspection", "failed", "late", "shortage", "demand", "waitlist",
    "refurbish", "margin", "quote", "order", "crew", "shift", "plant", "audit",
]


def _corpus(n: int, seed: int) -> list[str]:
    """Random sentences plus, for a third of them, a copy with one or two words changed or appended."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        if texts and rng.random() < 0.35:
            words = rng.choice(texts).split()
            for _ in range(rng.choice((1, 2))):
                if rng.random() < 0.5:
                    words[rng.randrange(len(words))] = rng.choice(WORDS)
                else:
                    words.append(rng.choice(WORDS))
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30))))
    return texts


def test_lsh_finds_what_the_exact_index_finds_and_never_a_false_duplicate() -> None:
    texts = _corpus(3000, seed=5)
    exact, lsh = NearDuplicateIndex(), LshDuplicateIndex()
    both = exact_only = 0
    for i, text in enumerate(texts):
        want = exact.check_and_add(i, text)
        got = lsh.check_and_add(i, text)
        if got is not None:  # whatever it reports really is a near-duplicate of an earlier text
            assert isinstance(got, int) and got < i
            assert jaccard(shingles(texts[got]), shingles(text)) >= 0.8
        if want is not None:
            both += got is not None
            exact_only += got is None
    assert both >= 500  # the corpus has plenty of near-duplicates
    assert exact_only <= 0.02 * (both + exact_only)


def test_lsh_forgets_removed_texts() -> None:
    index = LshDuplicateIndex()
    text = "the KX-12 valve failed incoming inspection again on line four this morning"
    assert index.check_and_add("a", text) is None
    assert index.check_and_add("b", text + " today") == "a"
    index.remove("a")
    index.remove("b")
    assert len(index) == 0 and index.check_and_add("c", text) is None


def test_trim_keeps_the_window_and_the_themes_consistent() -> None:
    scheme = LabelScheme(compartments=("ops",))
    rng = random.Random(3)
    subjects = ["The {} valve from Brenner keeps failing inspection on line {}.",
                "Clinics asked for a {} maintenance contract with every fleet, {} of them would pay.",
                "Halvorsen {} sensors run short again and line {} stopped."]
    msgs = [MessageRecord(id=i, channel=f"c{i % 3}", author=f"agent-{rng.randrange(40)}",
                          body=rng.choice(subjects).format(rng.choice(WORDS), i), tier_level=1, tier="internal",
                          label=scheme.parse("internal"), order=i) for i in range(1, 1201)]
    miner = Miner(scheme)
    for start in range(0, len(msgs), 200):
        miner.add(msgs[start : start + 200])
        miner.trim(500)
        kept = set(miner.records)
        assert len(kept) <= 500 and min(kept) == max(1, start + 200 - 499)
        for theme in miner.index.themes:
            assert set(theme.evidence) <= kept
            outside = [w for t, w in theme.weights.items() if t not in theme.top]
            assert all(abs(theme.weights[t] - w) < 1e-9 for t, w in theme.top.items())
            assert not theme.top or min(theme.top.values()) >= max(outside, default=0.0) - 1e-9  # the heaviest
        for term, tids in miner.index.by_term.items():
            assert all(term in miner.index.themes[t].top for t in tids)
        counted = {a for counts in miner.speakers.values() for a in counts}
        assert counted <= {miner.records[m].author for m in kept}
    assert miner.insights() and all(set(i.message_ids) <= set(miner.records) for i in miner.insights())
