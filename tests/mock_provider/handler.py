"""The HTTP server: routing, request recording, fault injection, and the `/_mock/*`
control endpoints. Loopback only; stdlib only."""

from __future__ import annotations

import itertools
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import anthropic_routes, bedrock_routes, gemini_routes, mistral_routes, openai_routes
from .collector import Collector, CollectorError
from .exchange import Exchange, StreamCut, drop_connection, dumps
from .scenario import BadKnob, parse_knobs

PROVIDER_ROUTES: dict[tuple[str, str], tuple[str, Callable[[Exchange], None]]] = {
    ("POST", "/v1/chat/completions"): ("openai", openai_routes.chat_completions),
    ("POST", "/v1/responses"): ("openai", openai_routes.responses),
    ("POST", "/v1/embeddings"): ("openai", openai_routes.embeddings),
    ("GET", "/v1/models"): ("openai", openai_routes.models),
    ("POST", "/v1/messages"): ("anthropic", anthropic_routes.messages),
    ("POST", "/v1/messages/count_tokens"): ("anthropic", anthropic_routes.count_tokens),
    ("POST", "/mistral/v1/chat/completions"): ("mistral", mistral_routes.chat_completions),
    ("POST", "/mistral/v1/embeddings"): ("mistral", mistral_routes.embeddings),
    # Gemini's routes carry the model in the path: `gemini_routes.route_key` names them.
    ("POST", "/gemini/*:generateContent"): ("google", gemini_routes.generate_content),
    ("POST", "/gemini/*:streamGenerateContent"): ("google", gemini_routes.stream_generate_content),
    ("POST", "/gemini/*:embedContent"): ("google", gemini_routes.embed_content),
    ("POST", "/gemini/*:batchEmbedContents"): ("google", gemini_routes.batch_embed_contents),
    ("POST", "/gemini/*:countTokens"): ("google", gemini_routes.count_tokens),
    ("POST", "/bedrock/model/*/converse"): ("bedrock", bedrock_routes.converse),
    ("POST", "/bedrock/model/*/converse-stream"): ("bedrock", bedrock_routes.converse_stream),
    ("POST", "/bedrock/model/*/invoke"): ("bedrock", bedrock_routes.invoke),
    ("POST", "/bedrock/model/*/invoke-with-response-stream"): ("bedrock", bedrock_routes.invoke_stream),
}


def _route_key(method: str, path: str) -> tuple[str, str]:
    """Gemini and Bedrock put the model in the path: their routes match by pattern."""
    return gemini_routes.route_key(method, path) or bedrock_routes.route_key(method, path) or (method, path)


# Headers not worth recording: transport details every request carries.
_UNRECORDED_HEADERS = {"host", "content-length", "accept-encoding", "connection", "accept"}
# Sent with retryable errors. Both SDKs ignore `retry-after: 0` (they need a delay > 0)
# and would back off 0.5 s and more; `retry-after-ms: 1` makes their retries immediate.
_RETRY_HEADERS = {"retry-after": "0", "retry-after-ms": "1"}


class MockState:
    """Everything the server remembers; shared by the handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._requests: list[dict[str, Any]] = []
        self.collector = Collector()

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}mock{next(self._ids):08d}"

    def add_request(self, record: dict[str, Any]) -> None:
        with self._lock:
            key = record["headers"].get("x-mock-attempt-key")
            if key:
                # SDKs that do not number their retries: the attempt is the
                # count of earlier requests carrying the same key.
                record["attempt"] = sum(1 for r in self._requests if r["headers"].get("x-mock-attempt-key") == key)
            self._requests.append(record)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._requests]

    def reset(self) -> None:
        with self._lock:
            self._requests = []
        self.collector.reset()


class MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Load tests open hundreds of connections at once (the default backlog of 5
    # resets the ones the accept loop has not reached yet).
    request_queue_size = 1024

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        if host == "localhost":
            host = "127.0.0.1"
        if not host.startswith("127."):
            raise ValueError(f"the mock provider binds loopback addresses only, not {host!r}")
        super().__init__((host, port), MockHandler)
        self.state = MockState()
        self.verbose = verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (an SDK closing a stream early, a cut) is normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the SDKs expect
    server: MockHTTPServer
    server_version = "costline-mock/1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the client's
    # delayed ACK would stall each response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        payload = dumps(obj)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            raw = self._read_body()
            if path.startswith("/_mock/"):
                self._control(method, path, raw)
            elif (method, path) == ("POST", "/v1/events"):
                self._collector_post(raw, headers)
            elif _route_key(method, path) in PROVIDER_ROUTES:
                self._provider(method, path, raw, headers)
            else:
                self._send(404, openai_routes.error_body(404, f"mock provider has no route {method} {path}"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (closed a stream early)
        except StreamCut:
            drop_connection(self)

    # --- provider calls -----------------------------------------------------------------

    def _provider(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> None:
        provider, route = PROVIDER_ROUTES[_route_key(method, path)]
        if path == "/v1/models" and "anthropic-version" in headers:
            provider, route = "anthropic", anthropic_routes.models
        request_id = self.server.state.next_id("req_")

        def fail(status: int, message: str | None = None, extra: dict[str, str] | None = None) -> None:
            if provider == "anthropic":
                body = anthropic_routes.error_body(status, request_id, message)
            elif provider == "mistral":
                body = mistral_routes.error_body(status, message)
            elif provider == "google":
                body = gemini_routes.error_body(status, message)
            elif provider == "bedrock":
                body, error_headers = bedrock_routes.error(status, message)
                extra = {**error_headers, **(extra or {})}
            else:
                body = openai_routes.error_body(status, message)
            ids = {"x-request-id": request_id, "request-id": request_id}
            self._send(status, body, {**ids, **(extra or {})})

        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (ValueError, UnicodeDecodeError) as exc:
            body = None
            error: str | None = f"request body is not JSON: {exc}"
        else:
            error = None if isinstance(body, dict) else "request body must be a JSON object"
        record = _record(method, path, provider, body if isinstance(body, dict) else {}, headers)
        self.server.state.add_request(record)
        if error is not None:
            record["status"] = 400
            fail(400, error)
            return
        try:
            knobs = parse_knobs(headers)
        except BadKnob as exc:
            record["status"] = 400
            fail(400, f"mock provider: {exc}")
            return

        slow = knobs.fault("slow")
        if slow:
            time.sleep(slow.value / 1000.0)
        failing = knobs.error_times is None or record["attempt"] < knobs.error_times
        if knobs.fault("drop") and failing:
            # A connection error: the socket is reset (RST, not a clean close)
            # with no response at all, as a failing network does.
            record.update(status=0, injected="drop")
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        status_fault = knobs.fault("status")
        if status_fault and (knobs.error_times is None or record["attempt"] < knobs.error_times):
            record.update(status=status_fault.value, injected=status_fault.value)
            retryable = status_fault.value in (408, 409, 429) or status_fault.value >= 500
            fail(status_fault.value, None, _RETRY_HEADERS if retryable else None)
            return

        exchange = Exchange(
            self, path=path, body=body, headers=headers, knobs=knobs, record=record, request_id=request_id
        )
        try:
            route(exchange)
        except (StreamCut, BrokenPipeError, ConnectionResetError):
            raise
        except Exception:  # noqa: BLE001 - a bug in the mock: say so loudly rather than hang the test
            traceback.print_exc(file=sys.stderr)
            nothing_sent_yet = record["status"] is None
            record["status"] = 500
            if nothing_sent_yet:
                try:
                    fail(500, "mock provider crashed; see its stderr")
                except OSError:
                    pass
            self.close_connection = True

    # --- collector and control ------------------------------------------------------------

    def _collector_post(self, raw: bytes, headers: dict[str, str]) -> None:
        collector = self.server.state.collector
        collector.enter()
        try:
            collector.wait_if_hung()
            delay = collector.delay_s()
            if delay:
                time.sleep(delay)
            status, body, extra = collector.handle_post(raw, headers)
        finally:
            collector.leave()
        self._send(status, body, extra)

    def _control(self, method: str, path: str, raw: bytes) -> None:
        state = self.server.state
        if (method, path) == ("GET", "/_mock/health"):
            self._send(200, {"ok": True})
        elif (method, path) == ("GET", "/_mock/requests"):
            self._send(200, {"requests": state.requests()})
        elif (method, path) == ("GET", "/_mock/events"):
            self._send(200, state.collector.snapshot())
        elif (method, path) == ("POST", "/_mock/reset"):
            state.reset()
            self._send(200, {"ok": True})
        elif (method, path) == ("POST", "/_mock/collector"):
            try:
                settings = json.loads(raw.decode("utf-8")) if raw else {}
                if not isinstance(settings, dict):
                    raise CollectorError("expected a JSON object")
                self._send(200, {"behaviour": state.collector.configure(settings)})
            except (ValueError, CollectorError) as exc:
                self._send(400, {"error": str(exc)})
        else:
            self._send(404, {"error": f"no control route {method} {path}"})


def _record(method: str, path: str, provider: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """What `/_mock/requests` shows of one provider call."""
    try:
        attempt = int(headers.get("x-stainless-retry-count", "0"))
        # The AWS SDKs number their attempts from 1: `amz-sdk-request: attempt=2; max=3`.
        aws = headers.get("amz-sdk-request", "").split(";")[0].strip()
        if aws.startswith("attempt="):
            attempt = int(aws[len("attempt=") :]) - 1
    except ValueError:
        attempt = 0
    return {
        "time": time.time(),
        "method": method,
        "path": path,
        "provider": provider,
        "model": body.get("model"),
        "stream": bool(body.get("stream")),
        "stream_options": body.get("stream_options"),
        "attempt": attempt,
        "headers": {k: v for k, v in headers.items() if k not in _UNRECORDED_HEADERS},
        "body": body,
        "status": None,
        "injected": None,
    }
