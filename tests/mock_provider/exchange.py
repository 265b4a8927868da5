"""One request being answered: its parsed body and knobs, and the ways to reply
(a JSON body, or a Server-Sent Events stream that can be cut on purpose)."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

from .scenario import Knobs

if TYPE_CHECKING:
    from .server import MockHandler


class StreamCut(Exception):
    """Raised inside a route when `x-mock-error: cut:N` says to drop the connection now."""


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


class Exchange:
    def __init__(
        self,
        handler: MockHandler,
        *,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        knobs: Knobs,
        record: dict[str, Any],
        request_id: str,
    ) -> None:
        self.handler = handler
        self.path = path
        self.body = body
        self.headers = headers
        self.knobs = knobs
        self.record = record
        self.request_id = request_id
        cut = knobs.fault("cut")
        self.cut_after: int | None = cut.value if cut else None

    @property
    def state(self):
        return self.handler.server.state

    def next_id(self, prefix: str) -> str:
        return self.state.next_id(prefix)

    def _id_headers(self) -> dict[str, str]:
        # Both SDKs expose these as `_request_id`; send both names, as each API sends its own.
        return {"x-request-id": self.request_id, "request-id": self.request_id}

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        payload = dumps(obj)
        handler = self.handler
        self.record["status"] = status
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        for name, value in {**self._id_headers(), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        if self.cut_after is not None:
            # A plain response cut after N bytes of its body: the client sees a short read.
            handler.wfile.write(payload[: self.cut_after])
            handler.wfile.flush()
            self.record["cut"] = True
            raise StreamCut()
        handler.wfile.write(payload)

    def open_sse(self) -> SseWriter:
        handler = self.handler
        self.record["status"] = 200
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("cache-control", "no-cache")
        # Chunked, as the real APIs stream over HTTP/1.1: a connection dropped mid-stream
        # is then an incomplete body the client can tell apart from a finished one.
        handler.send_header("transfer-encoding", "chunked")
        for name, value in self._id_headers().items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()
        return SseWriter(self)


class SseWriter:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.wfile = exchange.handler.wfile
        self.sent = 0
        self.delay_s = exchange.knobs.chunk_delay_ms / 1000.0

    def send(self, data: Any, event: str | None = None) -> None:
        if self.exchange.cut_after is not None and self.sent >= self.exchange.cut_after:
            self.exchange.record["cut"] = True
            raise StreamCut()
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
        self._chunk(frame.encode("utf-8"))
        self.sent += 1
        self.exchange.record["events_sent"] = self.sent
        if self.delay_s:
            time.sleep(self.delay_s)

    def _chunk(self, payload: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def finish(self) -> None:
        """End the body properly (the zero-length chunk)."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def drop_connection(handler: MockHandler) -> None:
    """Close the socket without finishing the response, like a network failure."""
    handler.close_connection = True
    try:
        handler.wfile.flush()
    except OSError:
        pass
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
