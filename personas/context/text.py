"""Leak-guard fingerprints and full-text query building. Pure functions, no database.

The guard compares :func:`workspace.text.squashed` text (normalised, letters and digits only) by character windows
(:func:`fingerprints` of what it protects, :func:`post_grams` of a post), and sentences by their content stems
(:func:`stems_of`, :func:`post_windows`) to catch paraphrases. :func:`document_shingles` is the previous word-shingle
format, still written at ingest for processes of the previous release (it is no longer read).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import zlib

from workspace.text import content_words, folded_words, normalized, squashed

SHINGLE_WORDS = 5
GRAM = 18
"""Characters (letters and digits, after normalising) per fingerprint window: about three words."""
WINNOW = 4
"""What is protected keeps the smallest window hash of every 4 consecutive ones (winnowing, Schleimer et al. 2003):
about 40% of its windows, and at least one of any 21 characters it shares with a post."""
MAX_QUERY_TERMS = 32

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he", "her", "his", "i",
    "if", "in", "into", "is", "it", "its", "of", "on", "or", "our", "she", "so", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "which", "who", "will",
    "with", "you", "your",
))


def shingle_hash(window: list[str] | tuple[str, ...]) -> int:
    """A signed 64-bit hash of a word window (fits a BIGINT column on both engines)."""
    return _window_hash(" ".join(window))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def document_shingles(text: str, k: int = SHINGLE_WORDS) -> set[int]:
    """Hashes of every ``k``-word window inside each sentence of a document passage.

    Windows never cross a sentence boundary, so a post that reorders the sentences still contains every one.
    """
    out: set[int] = set()
    for sentence in sentences(text):
        ws = folded_words(sentence)
        for i in range(len(ws) - k + 1):
            out.add(shingle_hash(ws[i : i + k]))
    return out


def window_hashes(sq: str) -> list[int]:
    """The hash of every ``GRAM``-character window of squashed text, in order: the same in every process (``hash``
    of a str is salted per process, and winnowing keeps the smallest hashes, so a salted hash made which posts the
    guard refused, and so a run's messages, differ from process to process for one seed). CRC-32 of the window's
    UTF-32 bytes, the text encoded once (a chance collision is one window: a copy is a run of them)."""
    n = len(sq) - GRAM + 1
    if n <= 0:
        return []
    raw, width, crc = sq.encode("utf-32-le"), 4 * GRAM, zlib.crc32
    return [crc(raw[i : i + width]) for i in range(0, 4 * n, 4)]


def post_grams(text: str) -> list[int]:
    """Every window hash of a post's squashed text, in order (the window at position i covers characters i to
    i + GRAM): a post is checked against all of them, so it shares every fingerprint of a span it copies."""
    return window_hashes(squashed(text))


def fingerprints(text: str) -> set[int]:
    """The winnowed window hashes of each sentence of ``text`` (windows never cross a sentence, so a post that
    reorders sentences still carries every one). A sentence shorter than a window has none."""
    out: set[int] = set()
    for sentence in sentences(text):
        grams = window_hashes(squashed(sentence))
        if len(grams) <= WINNOW:
            if grams:
                out.add(min(grams))
            continue
        out.update(min(grams[i : i + WINNOW]) for i in range(len(grams) - WINNOW + 1))
    return out


def stems_of(text: str) -> frozenset[str]:
    """The content stems of normalised ``text`` (what a paraphrase keeps when it changes word forms and order)."""
    return frozenset(content_words(normalized(text)))


_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:and|but|while|whereas)\s+")


def unit_stems(text: str) -> list[frozenset[str]]:
    """The content stems of each sentence of ``text``, and of each clause of a sentence that has several (a leak
    may restate one clause: "we sign the term sheet on 9 March" of "..., and nobody hears of it")."""
    out = []
    for sentence in sentences(text):
        out.append(stems_of(sentence))
        clauses = _CLAUSE.split(sentence)
        if len(clauses) > 1:
            out.extend(stems_of(c) for c in clauses)
    return [s for s in out if s]


def sentence_stems(text: str) -> list[frozenset[str]]:
    """The content stems of each sentence of ``text`` that has any."""
    return [s for s in map(stems_of, sentences(text)) if s]


def post_windows(each: list[frozenset[str]]) -> list[frozenset[str]]:
    """The stems of each two neighbouring sentences of a post (a paraphrase may split one sentence into two), or of
    its one sentence; ``each``: :func:`sentence_stems` of the post."""
    return [a | b for a, b in itertools.pairwise(each)] or each


@functools.lru_cache(maxsize=262_144)
def _window_hash(joined: str) -> int:
    """:func:`shingle_hash` of an already joined window, memoised: posts of one run share most of their windows
    (templates, document facts), and every post is checked. The one place the hash is computed."""
    digest = hashlib.blake2b(joined.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def query_terms(query: str) -> list[str]:
    """The search terms of a free-text query: words, minus stop words and duplicates, at most 32."""
    terms = [w for w in folded_words(query) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms (each quoted, so no operator can be injected)."""
    return " OR ".join(f'"{t}"' for t in terms)


def tsquery(terms: list[str]) -> str:
    """A PostgreSQL ``to_tsquery`` expression: any of the terms (terms are ``[a-z0-9]+`` so nothing to escape)."""
    return " | ".join(terms)

