"""Thin REST handlers of the channels domain (``/api/channels``, ``/api/messages``): parse, call a service,
shape the answer. Routes that agents may call carry ``opt={"agents": True}``; the rest need a signed-in admin."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from channels import services as svc
from channels.schemas import (
    ArchiveIn,
    ChannelIn,
    ChannelOut,
    EditIn,
    MemberOut,
    MemberPage,
    MembersAdded,
    MembersIn,
    MessageIn,
    MessageOut,
    MessagePage,
    ReactionIn,
    ReactionOut,
    SearchHit,
    SearchPage,
)
from workspace.actor import Actor
from workspace.web import agent_or_human, provide_actor, requires

AGENTS = {"agents": True}
AfterSeq = Annotated[int, QueryParameter(ge=0, description="return messages with seq greater than this")]
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
BeforeSeq = Annotated[int | None, QueryParameter(ge=1, description="instead: the latest messages before this seq")]
RootsOnly = Annotated[bool, QueryParameter(description="only thread roots and standalone messages; replies are left "
                                                       "out (each root carries reply_count and last_reply_seq)")]


def _channel(row: dict[str, Any]) -> ChannelOut:
    return msgspec.convert(row, ChannelOut)


def _message(row: dict[str, Any]) -> MessageOut:
    return msgspec.convert(row, MessageOut)


def _page(rows: list[dict[str, Any]], after_seq: int, limit: int) -> MessagePage:
    return MessagePage(messages=[_message(r) for r in rows], next_after_seq=rows[-1]["seq"] if rows else after_seq,
                       has_more=len(rows) == limit)


class ChannelController(Controller):
    path = "/api/channels"
    tags = ["channels"]
    guards = [agent_or_human]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/", summary="Channels the caller may read (mine=true: the ones it is a member of)", opt=AGENTS)
    async def list_channels(self, actor: NamedDependency[Actor],
                            mine: Annotated[bool, QueryParameter(description="only my memberships")] = False
                            ) -> list[ChannelOut]:
        rows = await (svc.member_channels(actor) if mine else svc.list_channels(actor))
        return [_channel(r) for r in rows]

    @post("/", summary="Create a channel (admins)", guards=[requires("admin")], status_code=HTTP_201_CREATED)
    async def create(self, actor: NamedDependency[Actor], data: JSONBody[ChannelIn]) -> ChannelOut:
        return _channel(await svc.create_channel(actor, data.name, data.topic, actor.scheme.parse(data.label)))

    @get("/{channel_id:int}", summary="One channel (no read up: the caller's label must dominate it)", opt=AGENTS)
    async def get_channel(self, actor: NamedDependency[Actor], channel_id: FromPath[int]) -> ChannelOut:
        return _channel(await svc.access_channel(actor, channel_id))

    @get("/by-name/{name:str}", summary="One channel by name", opt=AGENTS)
    async def by_name(self, actor: NamedDependency[Actor], name: FromPath[str]) -> ChannelOut:
        return _channel(await svc.access_channel(actor, name))

    @post("/{channel_id:int}/archive", summary="Archive or unarchive a channel (admins)",
          guards=[requires("admin")], status_code=HTTP_200_OK)
    async def archive(self, actor: NamedDependency[Actor], channel_id: FromPath[int],
                      data: JSONBody[ArchiveIn]) -> ChannelOut:
        return _channel(await svc.set_archived(actor, channel_id, data.archived))

    @get("/{channel_id:int}/members", summary="A page of the channel's members, by member id", opt=AGENTS)
    async def members(self, actor: NamedDependency[Actor], channel_id: FromPath[int],
                      after_id: Annotated[int, QueryParameter(ge=0)] = 0,
                      limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500) -> MemberPage:
        rows = await svc.list_members(actor, channel_id, after_id, limit)
        return MemberPage(members=[msgspec.convert(r, MemberOut) for r in rows],
                          next_after_id=rows[-1]["id"] if len(rows) == limit else None)

    @post("/{channel_id:int}/members", summary="Add members in bulk (admins; all or nothing, labels checked)",
          guards=[requires("admin")], status_code=HTTP_200_OK)
    async def add_members(self, actor: NamedDependency[Actor], channel_id: FromPath[int],
                          data: JSONBody[MembersIn]) -> MembersAdded:
        return MembersAdded(added=await svc.add_members_bulk(actor, channel_id, data.member_ids))

    @delete("/{channel_id:int}/members/{member_id:int}", summary="Remove a member (admins)",
            guards=[requires("admin")])
    async def remove(self, actor: NamedDependency[Actor], channel_id: FromPath[int], member_id: FromPath[int]
                     ) -> None:
        await svc.remove_member(actor, channel_id, member_id)

    @post("/{channel_id:int}/join", summary="Join (the caller's label must dominate the channel's)", opt=AGENTS,
          status_code=HTTP_200_OK)
    async def join(self, actor: NamedDependency[Actor], channel_id: FromPath[int]) -> ChannelOut:
        await svc.join_channel(actor, channel_id)
        return _channel(await svc.access_channel(actor, channel_id))

    @post("/{channel_id:int}/leave", summary="Leave a channel", opt=AGENTS, status_code=HTTP_200_OK)
    async def leave(self, actor: NamedDependency[Actor], channel_id: FromPath[int]) -> dict[str, bool]:
        await svc.leave_channel(actor, channel_id)
        return {"left": True}

    @get("/{channel_id:int}/messages", summary="Messages after a seq (cursor pagination; resume from the last "
         "seq you saw)", opt=AGENTS)
    async def messages(self, actor: NamedDependency[Actor], channel_id: FromPath[int], after_seq: AfterSeq = 0,
                       limit: Limit = 100, before_seq: BeforeSeq = None, roots_only: RootsOnly = False
                       ) -> MessagePage:
        rows = await svc.list_messages(actor, channel_id, after_seq=after_seq, limit=limit, before_seq=before_seq,
                                       roots_only=roots_only)
        return _page(rows, after_seq, limit)

    @post("/{channel_id:int}/messages", summary="Post (idempotent on client_msg_id: 201 when stored, 200 with the "
          "original on a retry)", opt=AGENTS)
    async def post_message(self, actor: NamedDependency[Actor], channel_id: FromPath[int],
                           data: JSONBody[MessageIn]) -> Response[MessageOut]:
        message, created = await svc.submit_message(actor, channel_id, data.body, data.client_msg_id,
                                                    data.thread_of)
        return Response(_message(message), status_code=HTTP_201_CREATED if created else HTTP_200_OK)


class MessageController(Controller):
    path = "/api/messages"
    tags = ["channels"]
    guards = [agent_or_human]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/search", summary="Full-text search over the messages you may read, best first", opt=AGENTS,
         description="Every word of `q` must match (stems match: 'batteries' finds 'battery'; stop words and "
         "punctuation are dropped). Only messages the caller may read are ranked, counted or returned: channels "
         "whose label the caller's label dominates and, for agents, channels the agent is a member of. Deleted "
         "messages are left out. Searches are not audited (reading messages is not).")
    async def search(self, actor: NamedDependency[Actor],
                     q: Annotated[str, QueryParameter(min_length=1, max_length=500, description="the words to find")],
                     channel: Annotated[str | None, QueryParameter(
                         min_length=1, max_length=80, description="only this channel (name or id)")] = None,
                     limit: Annotated[int, QueryParameter(ge=1, le=50)] = 20,
                     offset: Annotated[int, QueryParameter(ge=0, le=1000)] = 0) -> SearchPage:
        where = int(channel) if channel and channel.isdigit() else channel
        found = await svc.search_messages(actor, q, where, limit, offset)
        hits = [SearchHit(message=_message(r["message"]), channel=r["channel"], label=r["message"]["label"],
                          score=r["score"], snippet=r["snippet"], highlights=[(a, b) for a, b in r["highlights"]])
                for r in found["results"]]
        more = bool(hits) and offset + len(hits) < min(found["total"], 1001)
        return SearchPage(query=q, terms=found["terms"], total=found["total"], results=hits,
                          next_offset=offset + len(hits) if more else None)

    @get("/{message_id:int}", summary="One message (with reaction counts)", opt=AGENTS)
    async def get_message(self, actor: NamedDependency[Actor], message_id: FromPath[int]) -> MessageOut:
        return _message(await svc.get_message(actor, message_id))

    @get("/{message_id:int}/thread", summary="A thread: its root and replies in seq order", opt=AGENTS)
    async def thread(self, actor: NamedDependency[Actor], message_id: FromPath[int], after_seq: AfterSeq = 0,
                     limit: Limit = 100) -> MessagePage:
        root = await svc.get_message(actor, message_id)
        thread_root = root["thread_of"] or root["id"]
        rows = await svc.list_messages(actor, root["channel_id"], after_seq=after_seq, limit=limit,
                                       thread_of=thread_root)
        return _page(rows, after_seq, limit)

    @patch("/{message_id:int}", summary="Edit your own message", opt=AGENTS)
    async def edit(self, actor: NamedDependency[Actor], message_id: FromPath[int], data: JSONBody[EditIn]
                   ) -> MessageOut:
        return _message(await svc.edit_message(actor, message_id, data.body))

    @delete("/{message_id:int}", summary="Delete your own message (a tombstone keeps its seq)", opt=AGENTS,
            status_code=HTTP_200_OK)
    async def delete_message(self, actor: NamedDependency[Actor], message_id: FromPath[int]) -> MessageOut:
        return _message(await svc.delete_message(actor, message_id))

    @post("/{message_id:int}/reactions", summary="React: a vote (up/down, one per member) or an emoji",
          opt=AGENTS, status_code=HTTP_200_OK)
    async def react(self, actor: NamedDependency[Actor], message_id: FromPath[int], data: JSONBody[ReactionIn]
                    ) -> ReactionOut:
        return msgspec.convert(await svc.react(actor, message_id, data.kind, data.value), ReactionOut)

    @delete("/{message_id:int}/reactions", summary="Take back a reaction", opt=AGENTS, status_code=HTTP_200_OK)
    async def unreact(self, actor: NamedDependency[Actor], message_id: FromPath[int],
                      kind: Annotated[str, QueryParameter()], value: Annotated[str, QueryParameter()]
                      ) -> ReactionOut:
        return msgspec.convert(await svc.react(actor, message_id, kind, value, remove=True), ReactionOut)


ROUTES = [ChannelController, MessageController]
