"""The one text toolkit: words, stems (Snowball, through PyStemmer), stop words, content words, word shingles and
the near-duplicate indexes. Pure functions and in-memory structures; every domain that compares text (the agent
runtime, the leak guard, conversation metrics, mining) goes through these, so "the same words" means one thing.
Document structure (sentences, passages, facts) lives in ``personas.context``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Hashable
from math import ceil

import Stemmer
from confusable_homoglyphs.confusables import confusables_data

_WORD = re.compile(r"[a-z0-9]+(?:[.\-'][a-z0-9]+)*")
_FOLDED_WORD = re.compile(r"[a-z0-9]+")
_STOP_TEXT = """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just let me more most my no nor not now of off on once
    only or other our ours out over own same she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where which while who whom why
    will with would you your yours per via yet still every one two three get got us it's i'm we're
    don't isn't"""
STOPWORDS = frozenset(_STOP_TEXT.split())
DUPLICATE_THRESHOLD = 0.8
SHINGLE = 3
_MEMO = 200_000
_stemmer = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers, versions (3.2.1) and codes (ps-40) stay whole."""
    return _WORD.findall(text.lower())


def folded_words(text: str) -> list[str]:
    """Lower-case ASCII-folded words split on anything else: punctuation, case, accents and spacing do not
    matter (what the leak guard fingerprints)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _FOLDED_WORD.findall(folded)


@functools.cache
def _look_alikes() -> dict[int, str]:
    """Each non-ASCII character that Unicode's confusables data says looks like one ASCII letter or digit, mapped to
    it in lower case (Cyrillic small a U+0430 -> 'a', Greek capital rho -> 'p'; an upper-case look-alike of 'l' is
    an 'I')."""
    table: dict[int, str] = {}
    for char in confusables_data:
        if len(char) == 1 and not char.isascii():
            ascii_ = _look_alike(char) or (_look_alike(char.casefold()) if len(char.casefold()) == 1 else None)
            if ascii_:
                table[ord(char)] = ascii_
    return table


def _look_alike(char: str) -> str | None:
    found = [g["c"] for g in confusables_data.get(char, ()) if len(g["c"]) == 1 and g["c"].isascii()
             and g["c"].isalnum()]
    if not found:
        return None
    found.sort(key=lambda g: (not g.isalpha(), g.isupper() != char.isupper()))  # letters first, same case first
    return "i" if char.isupper() and found[0] == "l" else found[0].lower()


def normalized(text: str) -> str:
    """``text`` as the leak guard compares it: Unicode NFKC (full-width and mathematical letters become plain),
    look-alike letters of other scripts replaced by the Latin letter they imitate, accents and invisible format
    characters (zero-width spaces, soft hyphens, direction marks) removed, case folded. ASCII is only lower-cased."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).translate(_look_alikes()))
    return "".join(c for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf").casefold()


_NOT_ALNUM = re.compile(r"[\W_]+")


def squashed(text: str) -> str:
    """:func:`normalized` letters and digits alone, nothing between them: spacing, punctuation and a word split by
    a hyphen or a space do not matter ("Re-venue  FELL" and "revenue fell" are both "revenuefell")."""
    return _NOT_ALNUM.sub("", normalized(text))


_STEMS: dict[str, str] = {}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")


def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case word, so 'batteries' meets 'battery' and 'failures' meets
    'failure'. Codes and numbers are their own stem. Memoised, bounded at 200,000 words."""
    hit = _STEMS.get(word)
    if hit is None:
        if len(_STEMS) > _MEMO:
            _STEMS.clear()
        if any(c.isdigit() for c in word):
            ordinal = _ORDINAL.fullmatch(word)
            hit = _STEMS[word] = ordinal.group(1) if ordinal else word
        else:
            hit = _STEMS[word] = _stemmer.stemWord(word)
    return hit


_CONTENT: dict[str, str] = {}  # memo: word -> its stem, or "" when it carries no meaning (no stem is empty)


def content_words(text: str) -> set[str]:
    """Stems of the words that carry meaning: not stop words, at least 3 characters or containing a digit."""
    out: set[str] = set()
    for w in words(text):
        hit = _CONTENT.get(w)
        if hit is None:
            if len(_CONTENT) > _MEMO:
                _CONTENT.clear()
            keep = w not in STOPWORDS and (len(w) >= 3 or any(c.isdigit() for c in w))
            hit = _CONTENT[w] = stem(w) if keep else ""
        if hit:
            out.add(hit)
    return out


@functools.lru_cache(maxsize=65_536)
def content_stems(text: str) -> tuple[str, ...]:
    """:func:`content_words` of ``text`` in order of first appearance, memoised (facts are re-read often)."""
    out: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS and (len(w) >= 3 or any(c.isdigit() for c in w)):
            out[stem(w)] = None
    return tuple(out)


def shingles(text: str, k: int = SHINGLE) -> frozenset[int]:
    """Stable 32-bit hashes of the word ``k``-grams of ``text`` (the whole text if it is shorter than ``k``)."""
    toks = words(text)
    if len(toks) < k:
        return frozenset({zlib.crc32(" ".join(toks).encode())}) if toks else frozenset()
    return frozenset(zlib.crc32(" ".join(toks[i : i + k]).encode()) for i in range(len(toks) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class NearDuplicateIndex:
    """Finds, exactly, an earlier text whose shingle Jaccard similarity to a new one is >= ``threshold``.

    Uses prefix filtering (AllPairs): under one fixed order of shingles (their hash), two sets with Jaccard >= t
    share at least one of their first ``|s| - ceil(t*|s|) + 1`` shingles, so only texts sharing a prefix shingle
    are compared. Exact (no false negatives), deterministic, and near-linear on chat-like data.
    """

    def __init__(self, threshold: float = DUPLICATE_THRESHOLD) -> None:
        self.threshold = threshold
        self._sets: list[frozenset[int]] = []
        self._keys: list[object] = []
        self._by_prefix: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self._sets)

    def _prefix(self, s: frozenset[int]) -> list[int]:
        n = len(s) - ceil(self.threshold * len(s) - 1e-9) + 1
        return sorted(s)[: max(n, 1)]

    def find(self, text_shingles: frozenset[int]) -> object | None:
        """The key of the first indexed text that is a near-duplicate of ``text_shingles``, or ``None``."""
        if not text_shingles:
            return None
        seen: set[int] = set()
        size = len(text_shingles)
        for h in self._prefix(text_shingles):
            for idx in self._by_prefix.get(h, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                other = self._sets[idx]
                if min(size, len(other)) < self.threshold * max(size, len(other)):
                    continue  # length filter: Jaccard <= min/max
                if jaccard(text_shingles, other) >= self.threshold:
                    return self._keys[idx]
        return None

    def add(self, key: object, text_shingles: frozenset[int]) -> None:
        idx = len(self._sets)
        self._sets.append(text_shingles)
        self._keys.append(key)
        for h in self._prefix(text_shingles):
            self._by_prefix.setdefault(h, []).append(idx)

    def check_and_add(self, key: object, text: str) -> object | None:
        """Index ``text`` under ``key``; return the key of an earlier near-duplicate (it is indexed all the same)."""
        sh = shingles(text)
        dup = self.find(sh)
        self.add(key, sh)
        return dup


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

    One-permutation MinHash (40 bins, densified) banded into an LSH index, every candidate checked by exact shingle
    Jaccard. Exact copies are found by their shingle set; others through the LSH buckets (a near-duplicate at 0.8 is
    missed with probability ~0.3%; above 0.9 practically never). No false positives. :meth:`remove` forgets a key,
    so the index can follow a moving window.
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
