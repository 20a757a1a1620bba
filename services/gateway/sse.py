"""Server-Sent Events over grpc.aio server streams.

A pump task reads the upstream call into a small queue; the response writer waits on that queue with a heartbeat
timeout, so a quiet stream still sends `: heartbeat` comments (which also find clients that went away). Leaving —
the client disconnecting (aiohttp cancels the handler), an error, or the end — always cancels the upstream call
and the pump in `finally`, before or after the first event alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from aiohttp import web

from services.gateway.edge import REQUEST_ID_KEY, Metrics

_END = object()
QUEUE_DEPTH = 64


class UpstreamStream:
    """One server-streaming call, read by a pump task; counted in the in-flight gauge until closed."""

    def __init__(self, call, metrics: Metrics, route: str) -> None:
        self.call = call
        self._metrics = metrics
        self._route = route
        self._queue: asyncio.Queue = asyncio.Queue(QUEUE_DEPTH)
        metrics.streams.labels(route).inc()
        self._closed = False
        self._pump = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for item in self.call:
                await self._queue.put(item)
            await self._queue.put(_END)
        except grpc.RpcError as exc:
            await self._queue.put(exc)
        except asyncio.CancelledError:
            pass

    async def next(self, timeout: float | None) -> Any:
        """The next message, `None` after `timeout` seconds of quiet, an RpcError (returned, not raised), or _END."""
        if timeout is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def items(self) -> AsyncIterator[Any]:
        """Messages until the end; an upstream error is raised."""
        while True:
            item = await self.next(None)
            if item is _END:
                return
            if isinstance(item, grpc.RpcError):
                raise item
            yield item

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.call.cancel()
        self._pump.cancel()
        self._metrics.streams.labels(self._route).dec()


def is_end(item: Any) -> bool:
    return item is _END


class SseWriter:
    """Writes `id:` / `event:` / `data:` frames on a prepared text/event-stream response."""

    def __init__(self, request: web.Request, metrics: Metrics, route: str) -> None:
        self.request = request
        self.response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
            "X-Request-Id": request.get(REQUEST_ID_KEY, ""), "X-Content-Type-Options": "nosniff"})
        self._metrics = metrics
        self._route = route
        self._counted = False

    async def open(self) -> web.StreamResponse:
        await self.response.prepare(self.request)
        await self.response.write(b": connected\n\n")  # the headers leave now, not with the first event
        self._metrics.sse_clients.labels(self._route).inc()
        self._counted = True
        return self.response

    async def event(self, data: Any, *, event_id: int | str | None = None, event: str | None = None) -> None:
        frame = ""
        if event_id is not None:
            frame += f"id: {event_id}\n"
        if event:
            frame += f"event: {event}\n"
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        frame += f"data: {text}\n\n"
        await self.response.write(frame.encode())

    async def comment(self, text: str = "heartbeat") -> None:
        await self.response.write(f": {text}\n\n".encode())

    def close(self) -> None:
        if self._counted:
            self._counted = False
            self._metrics.sse_clients.labels(self._route).dec()


async def relay(writer: SseWriter, upstream: UpstreamStream, heartbeat: float,
                frame: Callable[[Any], tuple[Any, int | str | None] | None],
                on_error: Callable[[grpc.RpcError], Any]) -> None:
    """Forward every upstream message as one event until the stream ends; heartbeats in the quiet spells."""
    while True:
        item = await upstream.next(heartbeat)
        if item is None:
            await writer.comment()
            continue
        if is_end(item):
            return
        if isinstance(item, grpc.RpcError):
            await writer.event(on_error(item), event="error")
            return
        framed = frame(item)
        if framed is not None:
            data, event_id = framed
            await writer.event(data, event_id=event_id)
