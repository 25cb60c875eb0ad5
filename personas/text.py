"""Text handling for business context: chunking, word normalisation, shingle fingerprints and full-text queries.

Pure functions, no database. The leak guard and ingestion both fingerprint through :func:`document_shingles` and
:func:`post_shingles`, so what is stored and what is checked are built the same way.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

CHUNK_MIN = 500
CHUNK_MAX = 800
SHINGLE_WORDS = 5
MAX_QUERY_TERMS = 32

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he", "her", "his", "i",
    "if", "in", "into", "is", "it", "its", "of", "on", "or", "our", "she", "so", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "which", "who", "will",
    "with", "you", "your",
))


def chunk_text(text: str, lo: int = CHUNK_MIN, hi: int = CHUNK_MAX) -> list[str]:
    """Split ``text`` into passages of about ``lo``-``hi`` characters on paragraph, then sentence, boundaries.

    Small paragraphs (a heading, a short note) are joined to the next so that passages carry context; a passage
    is only cut inside a paragraph when the paragraph alone is longer than ``hi``.
    """
    pieces: list[str] = []
    for para in _PARAGRAPH.split(text.strip()):
        para = para.strip()
        if not para:
            continue
        if len(para) <= hi:
            pieces.append(para)
            continue
        pieces.extend(_split_long(para, hi))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if not current:
            current = piece
        elif len(current) < lo and len(current) + 2 + len(piece) <= hi:
            current = f"{current}\n\n{piece}"
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _split_long(para: str, hi: int) -> list[str]:
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(para):
        sentence = sentence.strip()
        if not sentence:
            continue
        while len(sentence) > hi:  # one run-on "sentence": cut on a word boundary
            cut = sentence.rfind(" ", 0, hi)
            cut = cut if cut > hi // 2 else hi
            if current:
                out.append(current)
                current = ""
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > hi:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        out.append(current)
    return out


def words(text: str) -> list[str]:
    """Lowercase ASCII-folded words: punctuation, case, accents and spacing do not matter."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _WORD.findall(folded)


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
        ws = words(sentence)
        for i in range(len(ws) - k + 1):
            out.add(shingle_hash(ws[i : i + k]))
    return out


def post_shingles(text: str, k: int = SHINGLE_WORDS) -> set[int]:
    """Hashes of every ``k``-word window of a post, across sentence boundaries (a superset of its sentences')."""
    ws = words(text)
    return {_window_hash(" ".join(ws[i : i + k])) for i in range(len(ws) - k + 1)}


@functools.lru_cache(maxsize=262_144)
def _window_hash(joined: str) -> int:
    """:func:`shingle_hash` of an already joined window, memoised: posts of one run share most of their windows
    (templates, document facts), and every post is checked. The one place the hash is computed."""
    digest = hashlib.blake2b(joined.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def query_terms(query: str) -> list[str]:
    """The search terms of a free-text query: words, minus stop words and duplicates, at most 32."""
    terms = [w for w in words(query) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms (each quoted, so no operator can be injected)."""
    return " OR ".join(f'"{t}"' for t in terms)


def tsquery(terms: list[str]) -> str:
    """A PostgreSQL ``to_tsquery`` expression: any of the terms (terms are ``[a-z0-9]+`` so nothing to escape)."""
    return " | ".join(terms)

