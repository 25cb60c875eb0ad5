"""A Python client for the Chorus WebSocket protocol (v1), on the ``websockets`` library.

Connect with an agent token, subscribe with resume, post with an automatic ``client_msg_id`` and retry, and
reconnect with backoff: after a drop it resubscribes after the last ``seq`` it saw, so nothing is lost or repeated.

    async with ChorusClient("ws://127.0.0.1:8000/ws", token=TOKEN) as client:
        await client.subscribe("ops-floor", after_seq=0)
        await client.post("ops-floor", "hello")
        async for frame in client.frames():
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger("chorus.client")
REVOKED = 4001
NOT_AUTHENTICATED = 4401
RETRYABLE = ("rate_limited", "unavailable")
"""Error codes after which the same post (same ``client_msg_id``) is sent again."""


class ChorusError(Exception):
    """An ``error`` frame from the server (``code``, ``message``, ``ref``, and ``retry_after`` when limited)."""

    def __init__(self, frame: Mapping[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = str(frame.get("code"))
        self.message = str(frame.get("message"))
        self.ref = frame.get("ref")
        self.retry_after = frame.get("retry_after")
        self.frame = dict(frame)


class ConnectionLost(Exception):
    """The socket dropped before the server answered; the client reconnects and the call may be retried."""


class ChorusClient:
    def __init__(self, url: str | Sequence[str], token: str | None = None, *,
                 headers: Mapping[str, str] | None = None, backoff_initial: float = 0.2, backoff_max: float = 10.0,
                 request_timeout: float = 30.0, max_queue: int = 100_000, refused_retry_s: float = 60.0) -> None:
        self.urls = [url] if isinstance(url, str) else list(url)
        """Several URLs (replicas without a load balancer in front): a failed connect moves on to the next one."""
        self.url = self.urls[0]
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.refused_retry_s = refused_retry_s
        """How long a reconnect keeps retrying handshakes refused with 401/403: a server also refuses that way
        when it closes the socket before accepting it (a replica draining, or its database restarting during the
        token lookup), so a refusal after this client was once accepted is retried for a while, not fatal."""
        self.hello: dict[str, Any] = {}
        self.last_seq: dict[int, int] = {}
        """The last seq delivered per channel id: what a resubscribe resumes after."""
        self.reconnects = 0
        self._wanted: dict[int | str, int | None] = {}
        self._ids: dict[int | str, int] = {}
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._frames: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue(max_queue)
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._fatal: BaseException | None = None
        self._dead = asyncio.Event()
        """Set with ``_fatal``: the client gave up (credentials refused, or the reader failed) and says so."""
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def failure(self) -> BaseException | None:
        """Why the client stopped for good (credentials refused or revoked, or its reader failed), else None."""
        return self._fatal

    async def __aenter__(self) -> ChorusClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket (retrying with backoff) and start reading."""
        await self._open()
        self._reader = asyncio.create_task(self._run(), name="chorus-client")

    async def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    async def _open(self, reconnecting: bool = False) -> None:
        """Connect to one of the URLs, retrying with backoff until one says hello. Every failure is retried
        except a refusal of the credentials (a close with 4401 or 4001 before hello, or an HTTP 401/403 from an
        older server): at once on the first connect, and after
        ``refused_retry_s`` of refusals on a reconnect."""
        delay = self.backoff_initial
        refused_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                ws = await websockets.connect(self.url, additional_headers=self.headers, compression=None,
                                              max_size=2**22, open_timeout=10, ping_interval=20)
                try:
                    # A server that accepted the socket but never says hello (a replica still starting, or stuck on
                    # its database) must not hold this client forever: give up on it and try the next URL.
                    hello = json.loads(await asyncio.wait_for(ws.recv(), self.request_timeout))
                except BaseException:
                    await ws.close()
                    raise
                if not isinstance(hello, dict) or hello.get("type") != "hello":
                    await ws.close()
                    raise ConnectionError(f"expected a hello frame, got {hello!r}")
                self.hello = hello
                self._ws = ws
                self._connected.set()
                for key in list(self._wanted):
                    self._spawn(self._resubscribe(key))
                return
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    refused_since = loop.time() if refused_since is None else refused_since
                    if not reconnecting or loop.time() - refused_since >= self.refused_retry_s:
                        raise PermissionError(f"the server refused the credentials ({status})") from exc
                log.info("connect failed (%s); retrying in %.1fs", exc, delay)
            except websockets.ConnectionClosed as exc:
                # Refused credentials close with 4401 once the handshake is accepted (PROTOCOL.md); 4008 (too many
                # sockets on this token) is transient: another socket of the token may close.
                code = exc.rcvd.code if exc.rcvd else None
                if code in (NOT_AUTHENTICATED, REVOKED):
                    refused_since = loop.time() if refused_since is None else refused_since
                    if not reconnecting or loop.time() - refused_since >= self.refused_retry_s:
                        reason = exc.rcvd.reason if exc.rcvd else ""
                        raise PermissionError(f"the server refused the credentials ({code}: {reason})") from exc
                log.info("connect failed (%s); retrying in %.1fs", exc, delay)
            except (asyncio.CancelledError, websockets.InvalidURI):
                raise
            except Exception as exc:
                # Everything else is transient: refused or reset sockets, a replica killed or draining mid-handshake
                # (InvalidMessage: no valid HTTP response), timeouts, a close before hello, a garbled hello.
                log.info("connect failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
            self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.backoff_max)

    async def _run(self) -> None:
        try:
            await self._read_and_reconnect()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # The reader is the only thing that reconnects: if it ends, say so to every caller instead of leaving
            # them waiting on a socket that will never come back.
            log.warning("the client stopped: %s: %s", type(exc).__name__, exc)
            self._give_up(exc if isinstance(exc, Exception) else ConnectionLost(repr(exc)))

    def _give_up(self, exc: BaseException) -> None:
        self._connected.clear()
        self._fatal = exc
        self._dead.set()
        self._fail_pending(exc)
        with contextlib.suppress(asyncio.QueueFull):
            self._frames.put_nowait(exc)

    def _fail_pending(self, exc: BaseException) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()

    async def _read_and_reconnect(self) -> None:
        while not self._stop.is_set():
            assert self._ws is not None
            try:
                async for raw in self._ws:
                    self._dispatch(json.loads(raw))
                code = self._ws.close_code
            except websockets.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
            self._connected.clear()
            self._fail_pending(ConnectionLost("the connection dropped before the server answered"))
            if self._stop.is_set():
                return
            if code == REVOKED:
                self._give_up(PermissionError("the server closed the connection: credentials revoked (4001)"))
                return
            self.reconnects += 1
            await self._open(reconnecting=True)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        ref = frame.get("ref")
        if kind == "message":
            cid, seq = int(frame["channel"]), int(frame["seq"])
            if not frame.get("update"):
                if seq <= self.last_seq.get(cid, -1):
                    return
                self.last_seq[cid] = seq
            self._frames.put_nowait(frame)
        elif kind == "reaction":
            self._frames.put_nowait(frame)
        elif kind == "subscribed":
            self._ids[frame["name"]] = int(frame["channel"])
            self._ids[int(frame["channel"])] = int(frame["channel"])
            self.last_seq.setdefault(int(frame["channel"]), int(frame["after_seq"]))
        elif kind == "resync":
            cid = int(frame["channel"])
            self._spawn(self._resubscribe(next((k for k in self._wanted if self._ids.get(k) == cid), cid)))
        if ref is not None and ref in self._pending and kind in ("ack", "error", "pong", "subscribed",
                                                                  "unsubscribed"):
            fut = self._pending.pop(ref)
            if not fut.done():
                fut.set_exception(ChorusError(frame)) if kind == "error" else fut.set_result(frame)
        elif kind == "error":
            log.warning("server error: %s", frame)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resubscribe(self, key: int | str) -> None:
        """Subscribe again (after a reconnect or a resync) after the last seq seen, retrying while the server
        answers with a retryable error (e.g. its database restarting), so that a channel is never silently lost.
        A dropped connection ends it: the reconnect resubscribes."""
        delay = self.backoff_initial
        while not self._stop.is_set() and key in self._wanted:
            cid = self._ids.get(key)
            after = self._wanted.get(key)
            resume = self.last_seq.get(cid, after) if cid is not None else after
            try:
                await self.request({"type": "subscribe", "channel": key, "after_seq": resume})
                return
            except ChorusError as exc:
                if exc.code not in (*RETRYABLE, "internal_error"):
                    log.warning("resubscribing to %s failed: %s", key, exc)
                    return
            except ConnectionLost:
                return
            except TimeoutError:
                pass
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.backoff_max)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self._ws is None:
            raise ConnectionLost("not connected")
        await self._ws.send(json.dumps({"v": 1, **frame}))

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame with a fresh ``ref`` and wait for its answer (ack, subscribed, pong) or error."""
        if self._fatal is not None:
            raise self._fatal
        if not self._connected.is_set():
            await self._wait_connected()
        ref = str(frame.get("ref") or frame.get("client_msg_id") or uuid.uuid4().hex)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        try:
            await self._send({**frame, "ref": ref})
        except websockets.ConnectionClosed as exc:
            self._pending.pop(ref, None)
            if fut.done() and not fut.cancelled():
                fut.exception()  # the reader failed it too; this is the error the caller gets
            raise ConnectionLost(str(exc)) from exc
        ws = self._ws
        try:
            return await asyncio.wait_for(fut, self.request_timeout)
        except TimeoutError:
            self._pending.pop(ref, None)
            # The socket is open but nothing answers (the replica is stuck): drop it so that the reader loop
            # reconnects, to the next URL if there are several, and the caller's retry goes there.
            if ws is not None and ws is self._ws:
                log.warning("no answer within %.0fs; reconnecting", self.request_timeout)
                await ws.close()
            raise

    async def _wait_connected(self) -> None:
        """Wait (up to ``request_timeout``) for the reader to reconnect; raise at once if the client gave up."""
        connected = asyncio.ensure_future(self._connected.wait())
        dead = asyncio.ensure_future(self._dead.wait())
        try:
            await asyncio.wait((connected, dead), timeout=self.request_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            dead.cancel()
        if self._fatal is not None:
            raise self._fatal
        if not self._connected.is_set():
            raise TimeoutError(f"not connected within {self.request_timeout:.0f}s (reconnecting)")

    async def subscribe(self, channel: int | str, after_seq: int | None = None) -> dict[str, Any]:
        """Follow a channel from ``after_seq`` (None: only new messages). Remembered across reconnects."""
        self._wanted[channel] = after_seq
        answer = await self.request({"type": "subscribe", "channel": channel, "after_seq": after_seq})
        return answer

    async def unsubscribe(self, channel: int | str) -> None:
        self._wanted.pop(channel, None)
        await self.request({"type": "unsubscribe", "channel": channel})

    async def post(self, channel: int | str, body: str, *, thread_of: int | None = None,
                   client_msg_id: str | None = None, attempts: int = 8) -> dict[str, Any]:
        """Post and return the ack (``seq``, ``id``). Retries on a dropped connection, on rate limits and while the
        server's database is unavailable, with the same ``client_msg_id``, so the message is stored exactly once."""
        cmid = client_msg_id or uuid.uuid4().hex
        frame: dict[str, Any] = {"type": "post", "channel": channel, "body": body, "client_msg_id": cmid}
        if thread_of is not None:
            frame["thread_of"] = thread_of
        delay = self.backoff_initial
        for attempt in range(attempts):
            try:
                return await self.request(frame)
            except ChorusError as exc:
                if exc.code not in RETRYABLE or attempt == attempts - 1:
                    raise
                await asyncio.sleep(float(exc.retry_after or delay))
                delay = min(delay * 2, self.backoff_max)
            except (TimeoutError, ConnectionLost):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
        raise AssertionError("unreachable")

    async def react(self, message_id: int, kind: str, value: str, remove: bool = False) -> dict[str, Any]:
        return await self.request({"type": "react", "message_id": message_id, "kind": kind, "value": value,
                                   "remove": remove})

    async def ping(self) -> dict[str, Any]:
        return await self.request({"type": "ping"})

    async def frames(self) -> AsyncIterator[dict[str, Any]]:
        """Message frames (new ones in seq order per channel, then updates) and reaction frames, forever."""
        while True:
            item = await self._frames.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def next_frame(self, wait_s: float = 30.0) -> dict[str, Any]:
        item = await asyncio.wait_for(self._frames.get(), wait_s)
        if isinstance(item, BaseException):
            raise item
        return item
