"""Benchmark: the offline discovery building blocks on generated business documents: facts() per 900-word
document, find_links over every stated fact, and build_issues over claims stated by two roles each, plus links.

    .venv/bin/python -m tests.bench.discovery_blocks                 # 2,000 documents (~300,000 claims)
    .venv/bin/python -m tests.bench.discovery_blocks --docs 200      # a shorter run
    .venv/bin/python -m tests.bench.discovery_blocks --smoke         # 20 documents: does it run (CI)

Documents are made from generic business sentences (suppliers, sites, contracts, figures and dates drawn at
random), about 900 words each. A script, not a test: it prints a table (stage, items, seconds, per item, peak RSS).
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from insights.issues import Said, build_issues
from personas.context.facts import Corpus, Fact, entity_keys, facts, term_keys
from personas.runtime.links import Stated, find_links

_SENTENCES = (
    "{org} delivered {n} lots of {part} in {month}; {k} lots were rejected for {defect}.",
    "The {site} lease ends on {day} {month} and will not be renewed.",
    "{org} is the sole supplier of {part}, with no qualified alternate.",
    "Customers asked for {n} more units of {part} before {day} {month}.",
    "The {site} line is out of service from {day} {month} to {day2} {month2} for its annual overhaul.",
    "Warehouse costs at {site} rose {k}% in the quarter after the landlord raised the rent.",
    "{org} offered a rebate of {k}% on all {part} orders if the letter is signed by {day} {month}.",
    "The team held its weekly review on {day} {month} and agreed the rota for the next {k} weeks.",
    "There are {n} unused {part} units in storage at {site} that could be sold or reused.",
    "The contract with {org} expires on {day} {month}; nobody has been assigned to renew it.",
    "Average lead time for {part} was {k} days, within the target of {n} days.",
    "The {site} fire drill on {day} {month} went as planned and all actions are closed.",
)
_WORDS = ("Norrow", "Kell", "Ardent", "Halden", "Brightline", "Talbot", "Calder", "Harlow", "Vexa", "Orrin",
          "Pellam", "Quarry", "Stanton", "Wexley", "Ibis", "Marlow", "Tamsin", "Corvid", "Easton", "Galt")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _doc(rng: random.Random, i: int) -> str:
    paras = [f"# Report {i}\n"]
    words = 0
    while words < 900:
        lines = []
        for _ in range(rng.randint(2, 5)):
            s = rng.choice(_SENTENCES).format(
                org=f"{rng.choice(_WORDS)} {rng.choice(('Seals', 'Motors', 'Foods', 'Logistics'))}",
                part=f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}-{rng.randint(1, 400)}",
                site=f"{rng.choice(_WORDS)} {rng.choice(('hub', 'plant', 'depot', 'store'))}",
                month=rng.choice(_MONTHS), month2=rng.choice(_MONTHS), day=rng.randint(1, 28),
                day2=rng.randint(1, 28), n=rng.randint(10, 5000), k=rng.randint(2, 40),
                defect=rng.choice(("scratches", "drift", "leaks", "cracks")))
            lines.append(s)
            words += len(s.split())
        if rng.random() < 0.3:
            paras.append(f"## Section {len(paras)}\n")
        paras.append(" ".join(lines) + "\n")
    return "\n".join(paras)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    n_docs = 20 if args.smoke else args.docs
    rng = random.Random(5)
    docs = [_doc(rng, i) for i in range(n_docs)]
    words = sum(len(d.split()) for d in docs)
    rows: list[tuple[str, int, float, str]] = []

    entity_keys.cache_clear()
    term_keys.cache_clear()
    t = time.process_time()
    per_doc: list[list[Fact]] = [facts(d) for d in docs]
    dt = time.process_time() - t
    rows.append(("facts()", n_docs, dt, f"{dt / words * 900 * 1000:.2f} ms per 900 words"))

    corpus = Corpus()
    for i, (d, fs) in enumerate(zip(docs, per_doc, strict=True)):
        corpus.add_document(d, fs, str(i), f"Report {i}")
    pairs = [(i, f) for i, fs in enumerate(per_doc) for f in fs]
    stated = [Stated(k, str(i), f"Report {i}", f"dept{i % 7}", (i % 4, i % 3), f) for k, (i, f) in enumerate(pairs)]
    t = time.process_time()
    links = find_links(stated, [], corpus, limit=2)
    dt = time.process_time() - t
    rows.append(("find_links", len(stated), dt, f"{len(links)} links, {dt / max(1, len(stated)) * 1e6:.0f} us/fact"))

    said: list[Said] = []
    for i, fs in enumerate(per_doc):
        for f in fs:
            for role in ("Planner", "Buyer"):
                said.append(Said(len(said), (str(i), 0, f.start, f.end), f"Report {i}", f"dept{i % 7}", f.text,
                                 role=role, department=role.lower(), channel="ops", fact=f))
    for lk in links[: len(said) // 20]:
        said.append(Said(len(said), (lk.a.doc, 0, lk.a.fact.start, lk.a.fact.end), lk.a.doc_title, lk.a.department,
                         lk.a.fact.text, role="Director", department="exec", link=(lk.b.doc, 0, lk.b.fact.start,
                         lk.b.fact.end), link_text=lk.b.fact.text, link_title=lk.b.doc_title,
                         link_department=lk.b.department, kind=lk.kind, relation=lk.relation,
                         consequence=lk.consequence, entity=lk.shared[0] if lk.shared else "", fact=lk.a.fact,
                         link_fact=lk.b.fact))
    t = time.process_time()
    issues = build_issues(said, corpus)
    dt = time.process_time() - t
    rows.append(("build_issues", len(said), dt, f"{len(issues)} issues, {dt / max(1, len(said)) * 1e6:.0f} us/claim"))

    print(f"{n_docs} documents, {words} words; peak RSS {_rss_mb():.0f} MB")
    print(f"{'stage':14s} {'items':>9s} {'CPU s':>8s}  note")
    for stage, items, secs, note in rows:
        print(f"{stage:14s} {items:9d} {secs:8.2f}  {note}")


if __name__ == "__main__":
    main()
