"""The optional LLM pass over mined insights: for the top N, ask the runtime's provider to rewrite the title and
summary from the cited evidence and to rate priority; keep only rewrites that stay on the evidence; re-rank the
top N by blending that priority with the offline score. Off unless asked for (``chorus insights mine --llm``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from insights.signals import salient_terms
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import ConfigError
from workspace.telemetry import llm_span

LLM_TOP = 10
"""Insights the pass looks at (the best by offline score); the rest keep their rank below them."""
LLM_WEIGHT = 0.3
"""Share of the LLM's priority in the blended rank (the offline score, scaled to the best one, keeps the rest)."""
MAX_TOKENS = 96
TITLE_CHARS = (12, 120)
SUMMARY_CHARS = 400
EXCERPTS = 3
EXCERPT_CHARS = 240

SYSTEM = ("You edit risk and opportunity reports for executives. Use only facts from the evidence. Reply with "
          "exactly three lines:\nTITLE: <a specific headline, at most 12 words>\nSUMMARY: <one sentence>\n"
          "PRIORITY: <1 to 5, 5 = act now>")


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


def parse_reply(text: str) -> Rewrite:
    """A ``{"title", "summary", "priority"}`` JSON object anywhere in ``text``, else ``TITLE:``/``SUMMARY:``/
    ``PRIORITY:`` lines (small models mix both; markdown bullets and bold are tolerated)."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            obj = json.loads(text[start : end + 1])
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            got = {str(k).lower(): v for k, v in obj.items()}
            return Rewrite(str(got.get("title") or "").strip(), str(got.get("summary") or "").strip(),
                           _priority(str(got.get("priority") or "")))
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
    return {t for t in salient_terms(text, []) if " " not in t}


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


def build_messages(kind: str, title: str, terms: list[str], excerpts: list[str]) -> list[dict[str, str]]:
    evidence = "\n".join(f"- {e[:EXCERPT_CHARS]}" for e in excerpts)
    user = (f"Kind: {kind}\nCurrent title: {title}\nKey terms: {', '.join(terms)}\nEvidence (messages):\n{evidence}\n"
            "Write the three lines.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def _chat(provider: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, int, int, float, str]:
    """One chat completion through the runtime's OpenAI-compatible provider (``local`` starts its server).
    Tokens and cost go on an LLM span like the runtime's."""
    import openai

    from personas.providers.openai_compat import OpenAIProvider
    from workspace.errors import Unavailable

    inner = await provider.start() if hasattr(provider, "start") else provider
    if not isinstance(inner, OpenAIProvider):
        raise ConfigError(f"the insights LLM pass needs the openai or local provider, not {provider.name!r}")
    with llm_span(model=inner.model, provider=inner.name, operation="chat") as call:
        try:
            response = await inner.client.chat.completions.create(
                model=inner.model, messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens, temperature=0.0, seed=0)
        except openai.APIError as exc:
            raise Unavailable(f"the LLM endpoint failed ({type(exc).__name__}: {exc}); check CHORUS_LLM_BASE_URL "
                              "or run the pass without --llm") from exc
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        cost = inner.price(tokens_in, tokens_out, response.model)
        call.usage(input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost, response_model=response.model)
    return text, tokens_in, tokens_out, cost, response.model or inner.model


async def llm_pass(actor: Actor, provider: Any, *, top: int = LLM_TOP, max_tokens: int = MAX_TOKENS,
                   weight: float = LLM_WEIGHT) -> LlmPassResult:
    """Rewrite and re-rank ``actor``'s workspace's top ``top`` current insights (the system actor or an admin).

    The offline provider is not a language model: with it nothing is rewritten and the order is kept (each insight's
    outcome says so). Otherwise each insight gets one call; a rewrite replaces the title (summary) only when it
    passes :func:`check_title` (:func:`check_summary`). The top ``top`` are then re-ranked by
    ``(1 - weight) * score / best score + weight * (priority - 1) / 4`` and take the same set of scores in that
    order, so the rest of the ranking is untouched. One audit entry (``insights.rewritten``) records the pass.
    """
    actor.require_role("admin")
    database = dbmod.current()
    rows = await database.fetch(
        "SELECT id, kind, title, summary, score, terms, citations FROM insights_insight "
        "WHERE workspace = {} AND current = {} ORDER BY score DESC, id LIMIT {}", actor.workspace_id, True, top)
    result = LlmPassResult(considered=len(rows), order_before=[int(r["id"]) for r in rows])
    if not rows:
        return result
    if getattr(provider, "name", "") == "offline":
        result.outcomes = {int(r["id"]): "kept: the offline provider is not a language model" for r in rows}
        result.order_after = list(result.order_before)
        return result
    bodies = await _bodies([int(c["message"]) for r in rows for c in json.loads(r["citations"])[:EXCERPTS]])
    updates: dict[int, tuple[str, str]] = {}
    priority: dict[int, float] = {}
    changes: list[dict[str, Any]] = []
    for r in rows:
        iid, terms = int(r["id"]), [str(t) for t in json.loads(r["terms"] or "[]")]
        excerpts = [bodies[c["message"]] for c in json.loads(r["citations"])[:EXCERPTS] if c["message"] in bodies]
        text, t_in, t_out, cost, model = await _chat(
            provider, build_messages(str(r["kind"]), str(r["title"]), terms, excerpts), max_tokens)
        result.tokens_in += t_in
        result.tokens_out += t_out
        result.cost += cost
        result.model = model
        proposal = parse_reply(text)
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
            "tokens_in": result.tokens_in, "tokens_out": result.tokens_out})
    return result


async def _bodies(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    marks = ", ".join("{}" for _ in ids)
    rows = await dbmod.current().fetch(f"SELECT id, body FROM chorus_message WHERE id IN ({marks})", *ids)
    return {int(r["id"]): str(r["body"]) for r in rows}
