"""The optional LLM pass over mined insights: for the top N, ask the runtime's provider (its structured chat call,
:meth:`personas.llm.base.Provider.chat_json`) to rewrite the title and summary from the cited evidence and to rate
priority; keep only rewrites that stay on the evidence; re-rank the top N by blending that priority with the offline
score. Off unless asked for (``chorus insights mine --llm``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.services import messages_by_ids
from personas.llm.base import ChatReply, NotALanguageModel, Provider
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Unavailable
from workspace.labels import Stored
from workspace.text import content_words

LLM_TOP = 10
"""Insights the pass looks at (the best by offline score); the rest keep their rank below them."""
LLM_WEIGHT = 0.3
"""Share of the LLM's priority in the blended rank (the offline score, scaled to the best one, keeps the rest)."""
MAX_TOKENS = 96
TITLE_CHARS = (12, 120)
SUMMARY_CHARS = 400
EXCERPTS = 3
EXCERPT_CHARS = 240

SYSTEM = ("You edit risk and opportunity reports for executives. Use only facts from the evidence. Reply with one "
          'JSON object: {"title": "<a specific headline, at most 12 words>", "summary": "<one sentence>", '
          '"priority": <1 to 5, 5 = act now>}')
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "summary": {"type": "string"},
                   "priority": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
    "required": ["title", "summary", "priority"],
    "additionalProperties": False,
}
"""What the model must answer (the title first, so that a reply cut off at ``max_tokens`` still carries it)."""


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What the model proposed for one insight (fields it did not give are empty / ``None``)."""

    title: str = ""
    summary: str = ""
    priority: int | None = None


@dataclass
class LlmPassResult:
    """What one pass did: per insight, the outcome (``rewritten`` or the reason the original was kept)."""

    considered: int = 0
    rewritten: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)
    order_before: list[int] = field(default_factory=list)
    order_after: list[int] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    model: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"considered": self.considered, "rewritten": self.rewritten,
                "outcomes": {str(k): v for k, v in self.outcomes.items()}, "order_before": self.order_before,
                "order_after": self.order_after, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "cost": round(self.cost, 6), "model": self.model}


_LINE = re.compile(r"^\W*(title|summary|priority)\W*[:=-]\s*(.+)$", re.IGNORECASE)
_DIGIT = re.compile(r"[1-5]")
_JSON_START = re.compile(r'\{\s*"')
_JSON_FIELD = re.compile(r'"(title|summary|priority)"\s*:\s*("(?:[^"\\]|\\.)*"|\d)', re.IGNORECASE)


def rewrite_from(obj: Mapping[str, Any]) -> Rewrite:
    """The proposal in a ``{"title", "summary", "priority"}`` object (keys in any case; missing ones empty)."""
    got = {str(k).lower(): v for k, v in obj.items()}
    return Rewrite(str(got.get("title") or "").strip(), str(got.get("summary") or "").strip(),
                   _priority(str(got.get("priority") or "")))


def parse_reply(text: str) -> Rewrite:
    """A ``{"title", "summary", "priority"}`` JSON object anywhere in ``text`` (of an object cut off at
    ``max_tokens``, the fields that are complete), else ``TITLE:``/``SUMMARY:``/``PRIORITY:`` lines (small models mix
    both; markdown bullets and bold are tolerated)."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            obj = json.loads(text[start : end + 1])
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return rewrite_from(obj)
    if (opened := _JSON_START.search(text)) is not None:
        return rewrite_from({m.group(1): json.loads(m.group(2)) for m in _JSON_FIELD.finditer(text, opened.start())})
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip().replace("*", ""))
        if m and m.group(1).lower() not in fields:
            fields[m.group(1).lower()] = m.group(2).strip().strip('"').strip()
    return Rewrite(fields.get("title", ""), fields.get("summary", ""), _priority(fields.get("priority", "")))


def _priority(text: str) -> int | None:
    m = _DIGIT.search(text)
    return int(m.group(0)) if m else None


def _stems(text: str) -> set[str]:
    return content_words(text)


def check_title(title: str, key_terms: list[str], evidence: str) -> str | None:
    """Why ``title`` may not replace the offline one (``None``: it may): its length, or it keeps none of the
    insight's key terms, or it names content words the evidence never uses (invented)."""
    if not TITLE_CHARS[0] <= len(title) <= TITLE_CHARS[1]:
        return f"title length {len(title)} outside {TITLE_CHARS[0]}-{TITLE_CHARS[1]} characters"
    words = _stems(title)
    keys = set().union(*(_stems(t) for t in key_terms)) if key_terms else set()
    if not words & keys:
        return "title keeps none of the evidence's key terms"
    invented = words - _stems(evidence) - keys
    if len(invented) > max(2, len(words) // 2):
        return f"title uses words not in the evidence ({', '.join(sorted(invented)[:4])})"
    return None


def check_summary(summary: str, key_terms: list[str]) -> str | None:
    if not 20 <= len(summary) <= SUMMARY_CHARS:
        return f"summary length {len(summary)} outside 20-{SUMMARY_CHARS} characters"
    keys = set().union(*(_stems(t) for t in key_terms)) if key_terms else set()
    return None if _stems(summary) & keys else "summary keeps none of the evidence's key terms"


def build_prompt(kind: str, title: str, terms: list[str], excerpts: list[str]) -> str:
    """The user message for one insight (the instructions are :data:`SYSTEM`)."""
    evidence = "\n".join(f"- {e[:EXCERPT_CHARS]}" for e in excerpts)
    return (f"Kind: {kind}\nCurrent title: {title}\nKey terms: {', '.join(terms)}\nEvidence (messages):\n{evidence}\n"
            "Write the JSON object.")


async def _ask(provider: Provider, prompt: str, max_tokens: int) -> ChatReply:
    try:
        return await provider.chat_json(SYSTEM, prompt, REPLY_SCHEMA, max_tokens=max_tokens)
    except Unavailable as exc:
        raise Unavailable(f"{exc.message}; or run the pass without --llm") from exc


async def llm_pass(actor: Actor, provider: Provider, *, top: int = LLM_TOP, max_tokens: int = MAX_TOKENS,
                   weight: float = LLM_WEIGHT) -> LlmPassResult:
    """Rewrite and re-rank ``actor``'s workspace's top ``top`` current insights (the system actor or an admin).

    With a provider that is not a language model (the offline one refuses structured calls) nothing is rewritten and
    the order is kept (each insight's outcome says so). Otherwise each insight gets one call; a rewrite replaces the
    title (summary) only when it passes :func:`check_title` (:func:`check_summary`). The top ``top`` are then
    re-ranked by ``(1 - weight) * score / best score + weight * (priority - 1) / 4`` and take the same set of scores
    in that order, so the rest of the ranking is untouched. One audit entry (``insights.rewritten``) records the pass.
    """
    actor.require_role("admin")
    database = dbmod.current()
    rows = await database.fetch(
        "SELECT id, kind, title, summary, score, terms, citations, label_level, label_mask FROM insights_insight "
        "WHERE workspace = {} AND current = {} ORDER BY score DESC, id LIMIT {}", actor.workspace_id, True, top)
    result = LlmPassResult(considered=len(rows), order_before=[int(r["id"]) for r in rows])
    if not rows:
        return result
    bodies = await _bodies([int(c["message"]) for r in rows for c in json.loads(r["citations"])[:EXCERPTS]])
    updates: dict[int, tuple[str, str]] = {}
    priority: dict[int, float] = {}
    changes: list[dict[str, Any]] = []
    for r in rows:
        iid, terms = int(r["id"]), [str(t) for t in json.loads(r["terms"] or "[]")]
        excerpts = [bodies[c["message"]] for c in json.loads(r["citations"])[:EXCERPTS] if c["message"] in bodies]
        try:
            reply = await _ask(provider, build_prompt(str(r["kind"]), str(r["title"]), terms, excerpts), max_tokens)
        except NotALanguageModel as exc:  # nothing was written yet: keep every insight as it is
            result.outcomes = {int(r["id"]): f"kept: {exc.message}" for r in rows}
            result.order_after = list(result.order_before)
            return result
        result.tokens_in += reply.tokens_in
        result.tokens_out += reply.tokens_out
        result.cost += reply.cost
        result.model = reply.model
        proposal = rewrite_from(reply.data) if reply.data else parse_reply(reply.text)
        if proposal.priority is not None:
            priority[iid] = (proposal.priority - 1) / 4
        why = check_title(proposal.title, terms, "\n".join(excerpts)) if proposal.title else "no title in the reply"
        if why is None and proposal.title.strip(" .").lower() == str(r["title"]).strip(" .").lower():
            why = "the model returned the same title"
        title = str(r["title"]) if why else proposal.title
        summary = str(r["summary"])
        if why is None and proposal.summary and check_summary(proposal.summary, terms) is None:
            # the offline summary's counts (agents, departments, tiers) stay: they are facts the model cannot see
            summary = proposal.summary + " " + summary.split(". ", 1)[0] + "."
        result.outcomes[iid] = "rewritten" if why is None else f"kept: {why}"
        if why is None:
            result.rewritten += 1
            updates[iid] = (title, summary)
            changes.append({"insight": iid, "was": str(r["title"]), "now": title})
    scores = [float(r["score"]) for r in rows]
    best = max(scores) or 1.0
    blended = sorted(rows, key=lambda r: (-((1 - weight) * float(r["score"]) / best
                                            + weight * priority.get(int(r["id"]), float(r["score"]) / best)),
                                          result.order_before.index(int(r["id"]))))
    result.order_after = [int(r["id"]) for r in blended]
    new_score = dict(zip(result.order_after, sorted(scores, reverse=True), strict=True))
    async with database.transaction():
        await database.execute_many(
            "UPDATE insights_insight SET title = {}, summary = {}, score = {} WHERE id = {}",
            [(*updates.get(iid, (str(r["title"]), str(r["summary"]))), new_score[iid], iid)
             for r in rows for iid in [int(r["id"])]])
        await audit.record(actor, "insights.rewritten", Entity("workspace", actor.workspace_id), {
            "model": result.model, "considered": result.considered, "rewritten": result.rewritten,
            "changes": changes, "kept": {str(k): v for k, v in result.outcomes.items() if v != "rewritten"},
            "order_before": result.order_before, "order_after": result.order_after,
            "tokens_in": result.tokens_in, "tokens_out": result.tokens_out},
            label=Stored.lub(Stored.of(r) for r in rows))
    return result


async def _bodies(ids: list[int]) -> dict[int, str]:
    return {mid: str(r["body"]) for mid, r in (await messages_by_ids(ids)).items() if not r["deleted"]}
