"""The reading plan of a run: every chunk of every document gets readers before anything is repeated. Each chunk
goes to agents of two roles (of different departments where possible) whose clearance dominates the chunk's label
and who belong to a channel at or above that label to speak of it in; readings are spread over the first rounds so
that every agent reads about one chunk a round. Planning works per (role, label), never agents x chunks, so
100,000 agents and 10,000 documents plan in seconds. Documents ingested during a continuous run join the plan at
the next round. Coverage (chunks read, read by two or more roles, per document) is counted from the plan's rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from personas.bulk import insert_rows
from personas.context.documents import chunks_after
from personas.runtime.scheduler import ChannelInfo, Population
from personas.tables import Reading
from workspace import db as dbmod
from workspace.db_sql import in_batches
from workspace.labels import Label, LabelScheme, dominates_ints

READERS = 2
"""Readers per chunk (of different roles where the org allows it)."""
READ_ROUNDS = 4
"""Rounds the first reading of every chunk is spread over, so that the whole corpus is read by round 5."""
MAX_READS = 3
"""Readings of one chunk at most, extra ones included (agents with nothing planned read what was read least)."""
PER_ROUND = 4
"""Readings one agent does in a round at most (a reading is a post; the post rate limit's burst is 10)."""
_COLS = ("run", "workspace", "chunk", "document", "member", "role", "department", "channel", "due_round", "lead")
_PG = ("int", "int", "bigint", "bigint", "bigint", "bigint", "text", "bigint", "int", "bool")


@dataclass(frozen=True, slots=True)
class Due:
    """A reading due in a round: who reads which chunk, and where it speaks of it."""

    reading: int
    chunk: int
    document: int
    member: int
    channel: int
    primary: bool


@dataclass
class _RoleSeat:
    """One role as the planner sees it: its agents (positions), its label and its channels."""

    role: int
    rank: int
    department: str
    label: Label
    positions: list[int]
    channels: tuple[int, ...]
    next: int = 0  # round-robin over the role's agents
    load: int = 0  # readings given to this role so far


@dataclass
class ReadingPlanner:
    """Plans a run's chunks onto readers; keeps the per-agent load so that plans made in later rounds (new
    documents) spread too."""

    pop: Population
    scheme: LabelScheme
    seed: int
    read_rounds: int = READ_ROUNDS
    per_agent: dict[int, int] = field(default_factory=dict)  # position -> readings planned for it
    planned: int = 0  # chunks planned so far: the seeded draws use it, not ids (the same in any workspace)
    by_label: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # chunk label -> chunks, in order
    reads: dict[int, int] = field(default_factory=dict)  # chunk -> readings planned or made
    seats: dict[int, _RoleSeat] = field(default_factory=dict)
    _eligible: dict[tuple[int, int], list[tuple[_RoleSeat, int]]] = field(default_factory=dict)
    unplanned: list[tuple[int, int, Label]] = field(default_factory=list)
    _known: set[int] = field(default_factory=set)
    """Chunks some roles may read but no channel of theirs may carry (the runtime opens one, then plans them)."""
    _read_enough: set[int] = field(default_factory=set)  # roles that found every chunk they may read read enough

    def may_read(self, label: Label) -> list[int]:
        """Positions of every agent of the roles whose clearance dominates ``label``."""
        return [p for seat in self.seats.values() if seat.label.dominates(label) for p in seat.positions]

    def channel_added(self) -> None:
        """A channel was opened: which roles may speak where is worked out again."""
        self._eligible.clear()
        self._read_enough.clear()  # a role may speak of chunks it could not before
        for seat in self.seats.values():
            seat.channels = self.pop.channels_of(seat.positions[0])

    def __post_init__(self) -> None:
        by_role: dict[int, list[int]] = {}
        for pos in range(len(self.pop)):
            if self.pop.chanset[pos]:
                by_role.setdefault(self.pop.role[pos], []).append(pos)
        for rank, (role_id, positions) in enumerate(sorted(by_role.items())):
            info = self.pop.roles[role_id]
            first = positions[0]
            label = self.scheme.from_ints(self.pop.level[first], self.pop.mask[first])
            self.seats[role_id] = _RoleSeat(role_id, rank, info.department, label, positions,
                                            self.pop.channels_of(first))

    def speakers(self, label: Label) -> list[tuple[_RoleSeat, int]]:
        """Roles that may read ``label`` and have a channel to speak of it in, each with that channel."""
        return self._readers(label)

    def _readers(self, label: Label) -> list[tuple[_RoleSeat, int]]:
        """Roles that may read ``label`` and speak of it, each with its channel for it: the lowest channel at or
        above the label (the widest audience), then the one with the most departments in it."""
        key = (label.level, label.mask)
        hit = self._eligible.get(key)
        if hit is None:
            hit = []
            for seat in self.seats.values():
                if not seat.label.dominates(label):
                    continue
                chans = [self.pop.channels[c] for c in seat.channels if self.pop.channels[c].label.dominates(label)]
                if not chans:
                    continue
                best = min(chans, key=lambda c: (c.label.level, bin(c.label.mask).count("1"), -_spread(self.pop, c),
                                                 c.id))
                hit.append((seat, best.id))
            self._eligible[key] = hit
        return hit

    def plan(self, chunks: Iterable[tuple[int, int, Label]]) -> list[tuple[int, int, int, int, str, int, int, bool]]:
        """Readers for ``chunks`` (id, document, label): rows (chunk, document, member position, role, department,
        channel, due round, primary), in chunk order. A chunk nobody may read and speak of gets no row."""
        out = []
        for chunk, document, label in chunks:
            cands = self._readers(label)
            self.planned += 1
            if chunk not in self._known:
                self._known.add(chunk)
                self.by_label.setdefault((label.level, label.mask), []).append(chunk)
                self._read_enough.clear()  # a new chunk: there is something to read again
            if not cands:
                if self.may_read(label):  # readers exist but no channel of theirs may carry it: one is needed
                    self.unplanned.append((chunk, document, label))
                continue
            # least-loaded roles first (per agent), a seeded hash breaks ties so roles take turns
            n = self.planned
            order = sorted(cands, key=lambda sc: (sc[0].load / len(sc[0].positions),
                                                  zlib.crc32(f"{self.seed}:{n}:{sc[0].rank}".encode())))
            chosen: list[tuple[_RoleSeat, int]] = []
            for seat, channel in order:
                if all(seat.department != c[0].department for c in chosen):
                    chosen.append((seat, channel))
                if len(chosen) == READERS:
                    break
            for seat, channel in order:  # not enough departments: another role of one already chosen
                if len(chosen) == READERS:
                    break
                if all(seat is not c[0] for c in chosen):
                    chosen.append((seat, channel))
            for i, (seat, channel) in enumerate(chosen):
                pos = seat.positions[seat.next % len(seat.positions)]
                seat.next += 1
                seat.load += 1
                k = self.per_agent.get(pos, 0)
                self.per_agent[pos] = k + 1
                # an agent reads one chunk a round, starting in a round of its own (the load spreads over the
                # first rounds); a small role with many chunks reads up to PER_ROUND a round, then goes on reading
                # in the rounds after (its posts stay under the rate limit's burst)
                if k < self.read_rounds * PER_ROUND:
                    due = 1 + (k + zlib.crc32(f"{self.seed}:{pos}".encode())) % self.read_rounds
                else:
                    due = self.read_rounds + 1 + (k - self.read_rounds * PER_ROUND) // PER_ROUND
                out.append((chunk, document, pos, seat.role, seat.department, channel, due, i == 0))
                self.reads[chunk] = self.reads.get(chunk, 0) + 1
        return out


    def another_reading(self, position: int) -> tuple[int, int] | None:
        """For an agent with nothing planned left: the least-read chunk it may read and speak of, and its channel
        for it (``None`` when there is none). Counted as a reading, so the next agent takes another."""
        role = self.pop.role[position]
        seat = self.seats.get(role)
        if seat is None or role in self._read_enough:  # reads only grow: a role that found none finds none
            return None
        best: tuple[int, int, int] | None = None  # (reads, chunk, channel)
        for (level, mask), chunks in self.by_label.items():
            label = self.scheme.from_ints(level, mask)
            channel = next((ch for s, ch in self._readers(label) if s is seat), None)
            if channel is None:
                continue
            for chunk in chunks:
                n = self.reads.get(chunk, 0)
                if best is None or n < best[0]:
                    best = (n, chunk, channel)
                    if n == 0:
                        break
        if best is None or best[0] >= MAX_READS:
            self._read_enough.add(role)
            return None  # everything it may read has been read enough: a fourth reader would only repeat
        self.reads[best[1]] = best[0] + 1
        return best[1], best[2]


def _spread(pop: Population, channel: ChannelInfo) -> int:
    """How many departments a channel reaches (its members' roles)."""
    return len({pop.roles[pop.role[p]].department for p in channel.members[:2000]})


async def plan_chunks(run_id: int, workspace_id: int, planner: ReadingPlanner,
                      chunks: Sequence[tuple[int, int, Label]], first_round: int) -> None:
    """Plan ``chunks`` (id, document, label) and store their readings."""
    planned = planner.plan(chunks)
    values = [(run_id, workspace_id, c, d, planner.pop.ids[pos], role, dept, ch, due + first_round - 1, primary)
              for c, d, pos, role, dept, ch, due, primary in planned]
    async with dbmod.current().transaction():
        for start in range(0, len(values), 5_000):
            await insert_rows(Reading._meta.tablename, _COLS, _PG, values[start:start + 5_000])


async def extend_plan(run_id: int, workspace_id: int, planner: ReadingPlanner, after_chunk: int,
                      first_round: int = 1) -> int:
    """Plan every chunk of the workspace with an id above ``after_chunk`` (their due rounds counted from
    ``first_round``); returns the highest chunk id seen (the next call's ``after_chunk``)."""
    top = after_chunk
    while True:
        rows = await chunks_after(workspace_id, top, 5_000)
        if not rows:
            return top
        top = int(rows[-1]["id"])
        chunks = [(int(r["id"]), int(r["document"]), planner.scheme.from_ints(int(r["label_level"]),
                                                                            int(r["label_mask"]))) for r in rows]
        await plan_chunks(run_id, workspace_id, planner, chunks, first_round)


async def due(run_id: int, rnd: int, limit: int = 200_000) -> list[Due]:
    """Readings of ``run_id`` due by round ``rnd`` and not read yet, in plan order."""
    rows = await Reading.select(Reading.id, Reading.chunk, Reading.document, Reading.member, Reading.channel,
                                Reading.lead).where(
        (Reading.run == run_id) & (Reading.read_round.is_null()) & (Reading.due_round <= rnd)).order_by(
        Reading.id).limit(limit)
    return [Due(int(r["id"]), int(r["chunk"]), int(r["document"]), int(r["member"]), int(r["channel"]),
                bool(r["lead"])) for r in rows]


async def mark_read(reading_ids: Sequence[int], rnd: int) -> None:
    """Record that these readings were read in round ``rnd`` (inside the caller's transaction)."""
    database = dbmod.current()
    for ids, marks in in_batches(reading_ids):
        await database.fetch(f"UPDATE personas_reading SET read_round = {{}} WHERE id IN ({marks})", rnd, *ids)


async def coverage(run_id: int, reader: Label | None = None) -> dict[str, Any]:
    """What a run has read: chunks planned, read, read by two or more roles, and the same per document. With
    ``reader``, a document's title is shown only when the reader's label dominates the document's (its counts
    always are: they say how much was read, not what)."""
    from personas.context.documents import documents_by_ids

    database = dbmod.current()
    rows = await database.fetch(
        "SELECT r.workspace, r.document, r.chunk, "
        "COUNT(DISTINCT CASE WHEN r.read_round IS NOT NULL THEN r.role END) AS roles "
        "FROM personas_reading r WHERE r.run = {} GROUP BY r.workspace, r.document, r.chunk", run_id)
    docs: dict[int, dict[str, int]] = {}
    for r in rows:
        d = docs.setdefault(int(r["document"]), {"chunks": 0, "read": 0, "read_by_two_roles": 0})
        d["chunks"] += 1
        d["read"] += int(r["roles"]) >= 1
        d["read_by_two_roles"] += int(r["roles"]) >= 2
    ws = int(rows[0]["workspace"]) if rows else 0
    titles: dict[int, str] = {}
    for d in await documents_by_ids(ws, list(docs)):
        if reader is None or dominates_ints(reader.level, reader.mask, int(d["label_level"]), int(d["label_mask"])):
            titles[int(d["id"])] = str(d["title"])
    per_doc = [{"id": d, "title": titles.get(d, "(above your clearance)"), **v} for d, v in sorted(docs.items())]
    return {"chunks": sum(v["chunks"] for v in docs.values()), "read": sum(v["read"] for v in docs.values()),
            "read_by_two_roles": sum(v["read_by_two_roles"] for v in docs.values()), "documents": per_doc}


async def planned_up_to(run_id: int) -> int:
    """The highest chunk id already planned for ``run_id`` (a resumed run plans only what came after)."""
    rows = await dbmod.current().fetch("SELECT COALESCE(MAX(chunk), 0) AS top FROM personas_reading WHERE run = {}",
                                       run_id)
    return int(rows[0]["top"]) if rows else 0
