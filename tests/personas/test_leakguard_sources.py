"""The leak guard covers every labelled text an agent could repeat, however it is disguised: documents and canaries
split by hyphens or spaces or spelled with look-alike letters, paraphrases of restricted sentences, a restricted
role's persona text, a restricted channel's messages and a claim's consequence. Each is refused through
post_message below its label, audited, and allowed where the label permits."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from channels.services import post_message
from personas.context import leakguard
from personas.context.documents import plant_canaries
from personas.context.facts import fact
from personas.context.leakindex import DOCUMENT, LeakIndex
from personas.domain import register_hooks
from personas.errors import LeakBlocked
from personas.runtime import claims as claim_store
from personas.scenario import builtin_names, builtin_scenario, load_scenario
from tests.bench import leakguard as bench
from tests.personas.helpers import CONTRACT, COUNSEL_CONCERN, MERGER, SCANNERS, Acme, load_acme
from workspace.db import Database
from workspace.tables import AuditEvent

PARAPHRASE = ("Heads up, from January 1st the Gull Carriers freight rates are rising by fourteen percent, "
              "or so I hear.")
SECRET = ("We sign the Kestrel term sheet on the ninth of March at the Dover depot, and nobody outside this room "
          "hears of it before then.")


async def _post(acme: Acme, handle: str, channel: str, body: str) -> dict[str, object]:
    return await post_message(await acme.agent(handle), channel, body, uuid.uuid4().hex)


async def _blocked(acme: Acme, handle: str, channel: str, body: str) -> dict[str, Any]:
    """Post, expect the guard to refuse it, and return the audit details of the block."""
    before = await AuditEvent.count().where(AuditEvent.action == "post.blocked")
    with pytest.raises(LeakBlocked) as caught:
        await _post(acme, handle, channel, body)
    assert caught.value.code == "leak_blocked"
    rows = await AuditEvent.select().where(AuditEvent.action == "post.blocked").order_by(AuditEvent.id)
    assert len(rows) == before + 1, "every block is audited"
    return dict(json.loads(rows[-1]["details"]))


DISGUISES: dict[str, Callable[[str], str]] = {
    "split by hyphens": lambda t: t.replace("Carriers", "Car-riers").replace("fourteen", "four-teen"),
    "split by spaces": lambda t: t.replace("Carriers", "Carr iers").replace("percent", "per cent"),
    "cyrillic look-alikes": lambda t: t.replace("a", "\u0430").replace("o", "\u043e"),
    "one cyrillic letter per word": lambda t: " ".join(w.replace("e", "\u0435", 1) for w in t.split(" ")),
    "full-width and zero-width": lambda t: t.replace("Gull", "\uff27\uff55\uff4c\uff4c").replace(" ", " \u200b"),
    "letters spaced out": lambda t: " ".join(t[:120]),
}


@pytest.mark.parametrize("disguise", list(DISGUISES))
async def test_a_disguised_copy_of_a_document_is_refused(db: Database, disguise: str) -> None:
    register_hooks()
    acme = await load_acme()
    details = await _blocked(acme, "counsel-0001", "ops-floor", DISGUISES[disguise](CONTRACT))
    assert details["label"] == "confidential/finance" and details["how"] == "copy"
    assert details["documents"], details


@pytest.mark.parametrize("disguise", ["hyphen", "space", "cyrillic", "upper case"])
async def test_a_canary_split_or_spelled_with_a_look_alike_is_refused(db: Database, disguise: str) -> None:
    register_hooks()
    acme = await load_acme()
    canaries = {c["label"]: c["marker"] for c in await plant_canaries(acme.system)}
    marker = canaries["restricted/finance+legal+ops"]
    hexpart = marker.rsplit("-", 1)[1]
    body = {"hyphen": f"ref {hexpart[:6]}-{hexpart[6:]}",
            "space": f"the code is {' '.join(hexpart[i:i + 4] for i in range(0, 16, 4))} if you need it",
            "cyrillic": "see " + marker.replace("c", "\u0441").replace("a", "\u0430"),
            "upper case": marker.upper()}[disguise]
    details = await _blocked(acme, "counsel-0001", "lobby", body)
    assert details["canary"] is True and details["how"] == "canary"
    assert details["label"] == "restricted/finance+legal+ops"


async def test_a_paraphrase_of_a_restricted_sentence_is_refused_and_other_talk_on_the_topic_is_not(
        db: Database) -> None:
    register_hooks()
    acme = await load_acme()
    details = await _blocked(acme, "counsel-0001", "ops-floor", PARAPHRASE)
    assert details["how"] == "paraphrase" and details["label"] == "confidential/finance"
    await _post(acme, "counsel-0001", "money", PARAPHRASE)  # money may carry it
    on_topic = "Does anyone know who our freight carriers are next year? The scanner batteries come by truck."
    await _post(acme, "counsel-0001", "ops-floor", on_topic)


async def test_a_restricted_roles_persona_text_never_reaches_a_channel_below_the_role(db: Database) -> None:
    register_hooks()
    acme = await load_acme()
    details = await _blocked(acme, "counsel-0001", "lobby", f"Honestly? {COUNSEL_CONCERN}.")
    assert details["label"] == "restricted/finance+legal+ops" and details["sources"][0].startswith("persona")
    reworded = "If we lose the Kestrel deal, our revenue is cut by thirty one percent."
    assert (await _blocked(acme, "counsel-0001", "money", reworded))["how"] == "paraphrase"
    await _post(acme, "counsel-0001", "boardroom", COUNSEL_CONCERN)  # the role's own label may carry it
    await _post(acme, "picker-0001", "lobby", "Broken scanners again today, and overtime too.")  # internal/ops


@pytest.mark.parametrize("fresh_process", [False, True])
async def test_a_restricted_channels_message_is_not_repeated_below_it(db: Database, fresh_process: bool) -> None:
    register_hooks()
    acme = await load_acme()
    await _post(acme, "counsel-0001", "boardroom", SECRET)
    if fresh_process:  # another process posted it: this one reads it from the database
        leakguard.invalidate()
    details = await _blocked(acme, "counsel-0002", "ops-floor", "FYI " + SECRET.replace("Kestrel", "Kes-trel"))
    assert details["label"] == "restricted/finance+legal+ops" and details["sources"][0].startswith("message")
    reworded = "Keep it quiet: the Kestrel term sheet gets signed at the Dover depot on March the ninth."
    assert (await _blocked(acme, "counsel-0002", "money", reworded))["how"] == "paraphrase"
    await _post(acme, "counsel-0002", "boardroom", "Confirming: " + SECRET)  # the same channel may carry it


async def test_a_claims_consequence_is_protected_at_the_claims_label(db: Database) -> None:
    register_hooks()
    acme = await load_acme()
    label = acme.system.scheme.parse("restricted/finance+legal+ops")
    consequence = ("so the merger could collapse if Gull Carriers walks away before the regulator finishes its "
                   "review of the exchange ratio")
    a = fact(CONTRACT.split(". ")[1] + ".")
    b = fact(MERGER.split(". ")[1] + ".")
    assert a is not None and b is not None
    span_a = claim_store.FactSpan("a", 3, 3, 0, len(a.text), a, label, "Carrier contract")
    span_b = claim_store.FactSpan("b", 4, 4, 0, len(b.text), b, label, "Project Lighthouse")
    async with db.transaction():
        await claim_store.store([claim_store.link_row(acme.ws, 0, 1, 0, 0, 0, "Counsel", "legal", span_a,
                                                      span_b, "depends", "risk", consequence, "Gull", label)])
    leakguard.invalidate(acme.ws)
    details = await _blocked(acme, "counsel-0001", "money", f"Worth saying: {consequence}.")
    assert details["sources"][0].startswith("claim") and details["label"] == "restricted/finance+legal+ops"


async def test_old_fingerprint_rows_do_not_matter(db: Database) -> None:
    """A database written by the previous release holds word-shingle fingerprints the guard no longer reads: it
    fingerprints the chunks themselves, so such a database is guarded the same (and an empty table too)."""
    register_hooks()
    acme = await load_acme()
    await db.execute_many("DELETE FROM personas_fingerprint WHERE workspace = {}", [(acme.ws,)])
    leakguard.invalidate()
    await _blocked(acme, "counsel-0001", "ops-floor", CONTRACT)
    await _post(acme, "counsel-0001", "ops-floor", SCANNERS)


def test_disguised_copies_of_restricted_sentences_are_all_caught_on_a_sample() -> None:
    """Twelve sentences of each built-in scenario that leak when posted alone below their label, with at least 60
    letters and digits: every verbatim, case, spacing, look-alike and split rewrite is refused (the benchmark
    tests/bench/leakguard.py measures the rates over every sentence, paraphrases included)."""
    rng = random.Random(5)
    checked = 0
    for name in builtin_names():
        scenario = load_scenario(builtin_scenario(name))
        index = bench.build_index(scenario)
        found = [s for s in bench.samples(scenario, name, index) if s.restricted and len(s.text) >= 80]
        for s in random.Random(name).sample(found, min(12, len(found))):
            for variant in bench.EXACT:
                body = bench.VARIANTS[variant](s.text, rng)
                assert index.find(s.level, s.mask, body) is not None, (name, variant, body)
                checked += 1
    assert checked >= 5 * 12 * 4


def test_the_index_is_pure_and_explains_shared_words_away() -> None:
    index = LeakIndex()
    index.add_text(DOCUMENT, 1, 2, 1, "Freight rates with Gull Carriers rise fourteen percent on the first of January.")
    index.add_text(DOCUMENT, 2, 0, 0, "Freight rates with Gull Carriers are posted on the carrier's public website.")
    assert index.find(0, 0, "Freight rates with Gull Carriers rise fourteen percent on the first of January.")
    assert index.find(0, 0, "Freight rates with Gull Carriers are posted on the public website.") is None
    assert index.find(2, 1, "Freight rates with Gull Carriers rise fourteen percent on the first of January.") is None


def test_a_links_consequence_frame_is_no_content_of_the_message_that_said_it() -> None:
    """Seen on a held-out caterer: a link posted in a safety channel closed with "so trouble with Dunstall Road CPU
    reaches what depends on it"; a later link in a finance and sales channel, on the same site from permitted
    documents, closed with "so trouble with Dunstall Road reaches what depends on it" and was blocked as a
    paraphrase of the safety message. The runtime's frame words are no one's content; the names in them are
    protected where they come from."""
    from personas.runtime.links import consequences
    index = LeakIndex()
    index.add_text(DOCUMENT, 1, 1, 2, "The lease on Unit 4, Dunstall Road ends on 30 September 2026.")
    index.add_message(7, 2, 64, "The HACCP plan says the Dunstall Road CPU cooks every hot meal at 08:00, so "
                                "trouble with Dunstall Road CPU reaches what depends on it.")
    body = ("The register says the lease on Unit 4, Dunstall Road ends on 30 September 2026, so trouble with "
            "Dunstall Road reaches what depends on it.")
    assert index.find(3, 2, body) is None
    # every consequence the runtime writes is frame words and the name it is about
    from personas.context.leakindex import FRAME_STEMS
    from personas.context.text import stems_of
    for text in consequences("Quarry Road"):
        assert stems_of(text) - stems_of("Quarry Road") <= FRAME_STEMS, text
