"""Near-duplicate detection for mining: MinHash (one permutation, 40 bins, densified) banded into an LSH index,
every candidate checked by exact shingle Jaccard. A lookup reads a few buckets instead of scanning similar texts;
texts can be removed, so the index follows the miner's window. No text storage beyond the shingle sets.
"""

from __future__ import annotations

from collections.abc import Hashable
from math import ceil

from personas.quality import DUPLICATE_THRESHOLD, shingles

BINS = 40
ROWS = 4
"""Bins per band: with 10 bands of 4, a pair at Jaccard 0.8 shares a band with probability ~0.995 (0.9: ~0.9999),
a pair at 0.5 with ~0.48 and at 0.35 with ~0.14 (those are then rejected by the exact check)."""
BUCKET_CAP = 16
"""Keys kept per bucket (the latest): templated chatter fills a few buckets; a lookup stays bounded."""
_EMPTY = 1 << 32


def signature(sh: frozenset[int]) -> tuple[int, ...]:
    """One-permutation MinHash: the smallest hash per bin (``h % BINS``). An empty bin borrows the next non-empty
    bin's value (circularly) offset by the distance (densification, Shrivastava and Li 2014): otherwise every short
    text would share its all-empty bands with every other one."""
    mins = [_EMPTY] * BINS
    for h in sh:
        b = h % BINS
        v = h // BINS
        if v < mins[b]:
            mins[b] = v
    if len(sh) < 4 * BINS and _EMPTY in mins:  # one backward sweep, twice round, carries the next value
        out = list(mins)
        carry, dist = -1, 0
        for i in range(2 * BINS - 1, -1, -1):
            b = i % BINS
            if mins[b] != _EMPTY:
                carry, dist = mins[b], 0
            else:
                dist += 1
                if i < BINS and carry >= 0:
                    out[b] = _EMPTY * dist + carry
        return tuple(out)
    return tuple(mins)


class LshDuplicateIndex:
    """Finds an earlier text whose shingle Jaccard similarity to a new one is >= ``threshold``.

    Exact copies are found by their shingle set; others through the LSH buckets (a near-duplicate at 0.8 is missed
    with probability ~0.3%; above 0.9 practically never). Candidates are verified exactly, so there are no false
    positives. :meth:`remove` forgets a key (the window moved on).
    """

    def __init__(self, threshold: float = DUPLICATE_THRESHOLD) -> None:
        self.threshold = threshold
        self._sets: dict[Hashable, frozenset[int]] = {}
        self._exact: dict[frozenset[int], Hashable] = {}
        self._buckets: dict[int, list[Hashable]] = {}
        self._keys_of: dict[Hashable, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._sets)

    @staticmethod
    def _bands(sig: tuple[int, ...]) -> tuple[int, ...]:
        # a band's bucket is the hash of its rows plus its offset (a collision only costs one exact check)
        return tuple([hash(sig[i : i + ROWS]) + i for i in range(0, BINS, ROWS)])

    def find(self, sh: frozenset[int], bands: tuple[int, ...] | None = None) -> Hashable | None:
        """The key of an indexed text that is a near-duplicate of the shingle set ``sh``, or ``None``."""
        if not sh:
            return None
        exact = self._exact.get(sh)
        if exact is not None:
            return exact
        size = len(sh)
        lo, hi = ceil(self.threshold * size - 1e-9), size / self.threshold
        seen: set[Hashable] = set()
        for band in bands or self._bands(signature(sh)):
            for key in self._buckets.get(band, ()):
                if key in seen:
                    continue
                seen.add(key)
                other = self._sets.get(key)
                if other is None or not lo <= len(other) <= hi:
                    continue  # removed, or the length filter: Jaccard <= min/max
                inter = len(sh & other)  # Jaccard, inlined: this is the hot loop
                if inter >= self.threshold * (size + len(other) - inter):
                    return key
        return None

    def add(self, key: Hashable, sh: frozenset[int], bands: tuple[int, ...] | None = None) -> None:
        if not sh:
            return
        bands = bands or self._bands(signature(sh))
        self._sets[key] = sh
        self._exact.setdefault(sh, key)
        self._keys_of[key] = bands
        for band in bands:
            bucket = self._buckets.setdefault(band, [])
            bucket.append(key)
            if len(bucket) > 2 * BUCKET_CAP:
                del bucket[: len(bucket) - BUCKET_CAP]

    def remove(self, key: Hashable) -> None:
        sh = self._sets.pop(key, None)
        if sh is None:
            return
        if self._exact.get(sh) == key:
            del self._exact[sh]
        for band in self._keys_of.pop(key, ()):
            bucket = self._buckets.get(band)
            if bucket is not None:
                try:
                    bucket.remove(key)
                except ValueError:
                    pass  # already trimmed by the cap
                if not bucket:
                    del self._buckets[band]

    def check_and_add(self, key: Hashable, text: str) -> Hashable | None:
        """Index ``text`` under ``key``; return the key of an earlier near-duplicate (it is indexed all the same)."""
        sh = shingles(text)
        if not sh:
            return None
        bands = self._bands(signature(sh))
        dup = self.find(sh, bands)
        self.add(key, sh, bands)
        return dup
