"""Benchmark: what the leak guard catches. From every built-in scenario's documents, the sentences that some channel
may not carry are rewritten as a leaking agent might (verbatim in chatter, upper case, spacing, look-alike letters,
split words, a light and a heavy paraphrase) and checked against the lowest channel that may not carry them; the
same rewrites of sentences that channel may carry are the control (they must pass: the false-positive rate).

    .venv/bin/python -m tests.bench.leakguard            # every restricted sentence of every built-in scenario
    .venv/bin/python -m tests.bench.leakguard --smoke    # 12 sentences per scenario: does it run (CI)
    .venv/bin/python -m tests.bench.leakguard --json     # the table, then one JSON object on the last line

The index is built as the guard builds it (chunks of each document, persona lines at their role's label), without a
database. Sentences need 5 content words or 40 letters and digits (shorter ones are too generic to be anyone's).
A script, not a test: it prints a table (variant, sentences, caught, rate, microseconds per check).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from personas.context.leakindex import DOCUMENT, PERSONA, LeakIndex
from personas.context.passages import chunk_spans, units
from personas.context.text import stems_of
from personas.scenario import builtin_names, builtin_scenario, load_scenario
from personas.scenario.model import Scenario
from workspace.text import squashed

LOOK_ALIKES = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "s": "ѕ",
               "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т"}
# A small general business thesaurus (no scenario's words): what a rewording agent would swap.
SYNONYMS = {
    "increase": "rise", "increased": "rose", "rose": "climbed", "rise": "climb", "decrease": "drop", "fell": "dropped",
    "reduce": "cut", "reduced": "cut", "customer": "client", "customers": "clients", "company": "firm",
    "revenue": "sales", "cost": "expense", "costs": "expenses", "purchase": "buy", "purchased": "bought",
    "begin": "start", "begins": "starts", "began": "started", "finish": "complete", "finished": "completed",
    "large": "big", "small": "little", "quickly": "fast", "approximately": "about", "about": "roughly",
    "because": "since", "however": "but", "must": "has to", "will": "is going to", "said": "stated",
    "says": "states", "help": "assist", "need": "require", "needs": "requires", "show": "indicate",
    "shows": "indicates", "problem": "issue", "problems": "issues", "agreement": "deal", "contract": "deal",
    "meeting": "session", "employees": "staff", "workers": "staff", "plan": "scheme", "month": "period",
    "weekly": "every week", "daily": "every day", "site": "location", "building": "facility", "delay": "slip",
    "delayed": "late", "late": "behind schedule", "due": "expected", "expects": "anticipates", "expected": "due",
    "new": "fresh", "current": "present", "previous": "prior", "before": "ahead of", "after": "following",
    "report": "write-up", "total": "overall", "percent": "per cent", "only": "just", "also": "as well",
}
FILLERS = ("Apparently", "From what I hear", "Between us", "Heads up", "Word is")


def _chatter(text: str, rng: random.Random) -> str:
    return f"{rng.choice(FILLERS)}: {text} Thoughts?"


def _spacing(text: str, rng: random.Random) -> str:
    return "".join(w + rng.choice(("  ", "\t", "\n", "   ", " \u00a0")) for w in text.split(" ")).rstrip()


def _homoglyph(text: str, rng: random.Random) -> str:
    chars = list(text)
    spots = [i for i, c in enumerate(chars) if c in LOOK_ALIKES]
    for i in rng.sample(spots, max(1, len(spots) // 3)) if spots else ():
        chars[i] = LOOK_ALIKES[chars[i]]
    return "".join(chars)


def _split(text: str, rng: random.Random) -> str:
    out = []
    for w in text.split(" "):
        if len(w) >= 5 and w.isalpha() and rng.random() < 0.5:
            cut = rng.randrange(2, len(w) - 1)
            w = w[:cut] + rng.choice(("-", " ", "- ", " - ")) + w[cut:]
        out.append(w)
    return " ".join(out)


def _reword(text: str, rng: random.Random, share: float) -> str:
    """Swap up to ``share`` of the words the thesaurus knows, move the last clause (or the last three words) to the
    front, drop articles, add a hedge: the same facts, other words and order."""
    words = text.rstrip(".").split(" ")
    known = [i for i, w in enumerate(words) if w.lower().strip(",;:") in SYNONYMS]
    for i in rng.sample(known, max(1, round(share * len(known)))) if known else ():
        bare = words[i].lower().strip(",;:")
        words[i] = words[i].lower().replace(bare, SYNONYMS[bare])
    words = [w for w in words if w.lower() not in ("the", "a", "an")]
    sentence = " ".join(words)
    if "," in sentence:
        head, tail = sentence.split(",", 1)
        sentence = f"{tail.strip()}, {head[:1].lower()}{head[1:]}"
    elif len(words) > 6:
        sentence = " ".join(words[-3:] + words[:-3])
    return f"{rng.choice(FILLERS)}, {sentence[:1].lower()}{sentence[1:]} (or so I gather)."


def _heavy(text: str, rng: random.Random) -> str:
    """A heavier rewording: every known word swapped, and every other remaining content word dropped."""
    light = _reword(text, rng, 1.0)
    words = light.split(" ")
    return " ".join(w for i, w in enumerate(words) if not (i % 2 and len(w) > 6 and not re.search(r"\d", w)))


VARIANTS: dict[str, Callable[[str, random.Random], str]] = {
    "verbatim": _chatter,
    "case": lambda t, rng: _chatter(t.upper(), rng),
    "spacing": lambda t, rng: _chatter(_spacing(t, rng), rng),
    "homoglyph": lambda t, rng: _chatter(_homoglyph(t, rng), rng),
    "split": lambda t, rng: _chatter(_split(t, rng), rng),
    "paraphrase": lambda t, rng: _reword(t, rng, 0.5),
    "heavy paraphrase": _heavy,
}
EXACT = ("verbatim", "case", "spacing", "homoglyph", "split")


@dataclass
class Sample:
    scenario: str
    text: str
    level: int  # the channel's label it is checked against
    mask: int
    restricted: bool  # the channel may not carry it


def build_index(scenario: Scenario) -> LeakIndex:
    """The guard's index of a scenario's documents and persona text, as the server builds it from the database."""
    index = LeakIndex()
    for doc_id, doc in enumerate(scenario.documents, start=1):
        for a, b in chunk_spans(doc.body):
            index.add_text(DOCUMENT, doc_id, doc.label.level, doc.label.mask, doc.body[a:b])
    for role_id, role in enumerate(scenario.roles, start=1):
        for part, item in enumerate((*role.traits, *role.goals, *role.concerns), start=1):
            index.add_text(PERSONA, role_id, role.label.level, role.label.mask, item, part=part)
    return index


def samples(scenario: Scenario, name: str, index: LeakIndex) -> Iterator[Sample]:
    """Every substantial sentence of every document, against the lowest channel that may not carry it (restricted)
    and against the lowest that may (the control); a sentence that some permitted document also says is skipped."""
    labels = sorted({c.label for c in scenario.channels}, key=lambda lb: (lb.level, bin(lb.mask).count("1")))
    for doc in scenario.documents:
        below = [lb for lb in labels if not lb.dominates(doc.label)]
        above = [lb for lb in labels if lb.dominates(doc.label)]
        for unit in units(doc.body):
            text = unit.statement
            if unit.kind != "sentence" or (len(stems_of(text)) < 5 and len(squashed(text)) < 40):
                continue
            if below and index.find(below[0].level, below[0].mask, text) is not None:
                yield Sample(name, text, below[0].level, below[0].mask, True)
            if above:
                yield Sample(name, text, above[0].level, above[0].mask, False)


def measure(per_scenario: int | None, seed: int = 11) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    caught: dict[str, list[int]] = {v: [0, 0] for v in VARIANTS}
    passed: dict[str, list[int]] = {v: [0, 0] for v in VARIANTS}
    spent: dict[str, float] = {v: 0.0 for v in VARIANTS}
    for name in builtin_names():
        scenario = load_scenario(builtin_scenario(name))
        index = build_index(scenario)
        found = list(samples(scenario, name, index))
        restricted = [s for s in found if s.restricted]
        control = [s for s in found if not s.restricted]
        if per_scenario is not None:
            restricted = random.Random(name).sample(restricted, min(per_scenario, len(restricted)))
            control = random.Random(name).sample(control, min(per_scenario, len(control)))
        for variant, rewrite in VARIANTS.items():
            for s in restricted + control:
                body = rewrite(s.text, rng)
                t0 = time.perf_counter()
                leak = index.find(s.level, s.mask, body)
                spent[variant] += time.perf_counter() - t0
                tally = caught if s.restricted else passed
                tally[variant][0] += leak is not None
                tally[variant][1] += 1
    out = {}
    for v in VARIANTS:
        n = caught[v][1] + passed[v][1]
        out[v] = {"sentences": caught[v][1], "caught": caught[v][0],
                  "rate": caught[v][0] / caught[v][1] if caught[v][1] else 0.0,
                  "control": passed[v][1], "false_positives": passed[v][0],
                  "fp_rate": passed[v][0] / passed[v][1] if passed[v][1] else 0.0,
                  "us_per_check": spent[v] / n * 1e6 if n else 0.0}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="12 sentences per scenario")
    parser.add_argument("--json", action="store_true", help="print one JSON object after the table")
    args = parser.parse_args()
    result = measure(12 if args.smoke else None)
    print(f"{'variant':<18}{'sentences':>10}{'caught':>8}{'rate':>8}{'control':>9}{'blocked':>9}{'us/check':>10}")
    for v, r in result.items():
        print(f"{v:<18}{r['sentences']:>10}{r['caught']:>8}{r['rate']:>8.1%}{r['control']:>9}"
              f"{r['false_positives']:>9}{r['us_per_check']:>10.0f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
