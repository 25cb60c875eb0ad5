"""Full-text message search over what the reader may see: SQLite FTS5 or a PostgreSQL ``tsvector``, filtered by the
label rule inside the query that ranks (channels the reader's label dominates and, for agents, channels they are
members of), so a message the reader may not read is never ranked, counted or returned.

Reading messages is not audited (only posts, edits, deletes and reactions are), so neither is a search.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from channels.services_channels import access_channel, require_active
from channels.services_messages import MSG_COLS, message_dict
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.errors import ValidationFailed
from workspace.labels import dominates_sql
from workspace.text import STOPWORDS, folded_words, stem

MAX_LIMIT = 50
MAX_OFFSET = 1000
MAX_TERMS = 16
SNIPPET_WORDS = 32
_COLS = ", ".join(f"m.{c.strip()}" for c in MSG_COLS.split(","))
_WORD = re.compile(r"\w+")
# The reader's filter, the same on both engines: the channel's label is dominated by the reader's (the one rule,
# ``dominates_sql``), and (agents) the reader is a member. The engines differ only in how they match and rank.
_VISIBLE = "c.workspace = {} AND m.deleted = {} AND "
_MEMBER = " AND EXISTS (SELECT 1 FROM chorus_channel_member cm WHERE cm.channel = c.id AND cm.member = {})"
_SQLITE_FROM = ("FROM chorus_message_fts JOIN chorus_message m ON m.id = chorus_message_fts.rowid "
                "JOIN chorus_channel c ON c.id = m.channel WHERE chorus_message_fts MATCH {} AND ")
_POSTGRES_FROM = ("FROM chorus_message m JOIN chorus_channel c ON c.id = m.channel, to_tsquery('english', {}) q "
                  "WHERE m.tsv @@ q AND ")


@dataclass(frozen=True, slots=True)
class Query:
    """A search's words (lower-case ASCII, no stop words) and their stems (for highlighting)."""

    terms: tuple[str, ...]
    stems: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Query:
        terms = [w for w in folded_words(text) if w not in STOPWORDS and len(w) <= 64]
        unique = tuple(dict.fromkeys(terms))[:MAX_TERMS]
        return cls(unique, frozenset(stem(t) for t in unique))

    def fts5(self) -> str:
        """Every term, each quoted (no operator can be injected): FTS5 reads juxtaposition as AND."""
        return " ".join(f'"{t}"' for t in self.terms)

    def tsquery(self) -> str:
        """Every term for ``to_tsquery`` (terms are ``[a-z0-9]+``: nothing to escape)."""
        return " & ".join(self.terms)


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii").lower()


def snippet(body: str, query: Query, words: int = SNIPPET_WORDS) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``body`` around its first matching word, and the ``(start, end)`` offsets of every matching word
    in that window. Matching is by stem, as the engines match, so 'batteries' highlights 'battery'. The same on
    both engines (their own snippet functions differ)."""
    tokens = list(_WORD.finditer(body))
    hits = [i for i, t in enumerate(tokens) if (w := _fold(t.group())) in query.terms or stem(w) in query.stems]
    if len(tokens) <= words:
        begin, end, lead, tail = 0, len(body), "", ""
    else:
        first = max(0, (hits[0] if hits else 0) - words // 4)
        last = min(len(tokens), first + words) - 1
        first = max(0, last + 1 - words)
        begin = 0 if first == 0 else tokens[first].start()
        end = len(body) if last == len(tokens) - 1 else tokens[last].end()
        lead, tail = ("" if begin == 0 else "\u2026"), ("" if end == len(body) else "\u2026")
    text = lead + body[begin:end] + tail
    shift = len(lead) - begin
    spans = [(tokens[i].start() + shift, tokens[i].end() + shift) for i in hits
             if tokens[i].start() >= begin and tokens[i].end() <= end]
    return text, spans


async def search_messages(actor: Actor, text: str, channel: int | str | None = None, limit: int = 20,
                          offset: int = 0) -> dict[str, Any]:
    """Messages matching every word of ``text`` that ``actor`` may read, best first.

    Returns ``{"query", "terms", "total", "results": [{"message", "channel", "score", "snippet", "highlights"}]}``;
    ``channel`` (id or name) narrows it to one channel the actor may read.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}; got {limit}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(f"offset must be between 0 and {MAX_OFFSET}; narrow the search instead of paging "
                               "further", field="offset")
    query = Query.parse(text)
    out: dict[str, Any] = {"query": text, "terms": list(query.terms), "total": 0, "results": []}
    if not query.terms:
        return out
    database = dbmod.current()
    readable, label_args = dominates_sql(actor.label, "c")
    where = _VISIBLE + readable
    args: list[Any] = [actor.workspace_id, False, *label_args]
    if actor.kind == "agent":
        where += _MEMBER
        args.append(actor.member_id)
    if channel is not None:
        chosen = await access_channel(actor, channel)  # no read up (and an active member)
        where += " AND c.id = {}"
        args.append(chosen["id"])
    else:
        await require_active(actor)
    if database.is_sqlite:
        source, expr, score = _SQLITE_FROM, query.fts5(), "bm25(chorus_message_fts)"
    else:
        source, expr, score = _POSTGRES_FROM, query.tsquery(), "-ts_rank_cd(m.tsv, q)"
    total = await database.fetch(f"SELECT COUNT(*) AS n {source}{where}", expr, *args)
    out["total"] = int(total[0]["n"])
    if not out["total"] or offset >= out["total"]:
        return out
    rows = await database.fetch(
        f"SELECT {_COLS}, c.name AS channel_name, {score} AS score {source}{where} "
        "ORDER BY score, m.id DESC LIMIT {} OFFSET {}", expr, *args, limit, offset)
    for r in rows:
        message = message_dict(r, actor.scheme)
        shown, spans = snippet(message["body"], query)
        out["results"].append({"message": message, "channel": r["channel_name"], "score": -float(r["score"]),
                               "snippet": shown, "highlights": [list(s) for s in spans]})
    return out
