"""`MockProvider`: the mock server on a background thread, for in-process tests."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .handler import MockHTTPServer

if TYPE_CHECKING:  # annotations only: the mock runs on the stdlib of any Python >= 3.8
    from typing import Self


class MockProvider:
    """Start with `with MockProvider() as mock:` (port 0: a free port is chosen).

    `mock.openai_base_url` goes to `openai.OpenAI(base_url=...)`,
    `mock.anthropic_base_url` to `anthropic.Anthropic(base_url=...)`, and `mock.url`
    is the collector base (`COSTLINE_BASE_URL`): events arrive at `/v1/events`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self._host = host
        self._port = port
        self._verbose = verbose
        self._server: MockHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = MockHTTPServer(self._host, self._port, verbose=self._verbose)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="mock-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.state.collector.release()  # no post stays hung past shutdown
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def _running(self) -> MockHTTPServer:
        if self._server is None:
            raise RuntimeError("the mock provider is not running; call start() or use `with MockProvider()`")
        return self._server

    # --- addresses ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._running.url

    @property
    def port(self) -> int:
        return self._running.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def bedrock_endpoint_url(self) -> str:
        """For `boto3.client("bedrock-runtime", endpoint_url=...)`."""
        return self.url + "/bedrock"

    @property
    def gemini_base_url(self) -> str:
        """For `google.genai.Client(http_options={"base_url": ...})`."""
        return self.url + "/gemini"

    @property
    def mistral_server_url(self) -> str:
        """For `mistralai.Mistral(server_url=...)` (it appends `/v1/...`)."""
        return self.url + "/mistral"

    # --- inspection and control ---------------------------------------------------------

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Provider calls received, oldest first (optionally only those to `path`,
        e.g. "/v1/chat/completions"). Retries appear as separate entries."""
        records = self._running.state.requests()
        return [r for r in records if path is None or r["path"] == path]

    def events(self) -> list[dict[str, Any]]:
        """Events the collector accepted, each `event_id` once, in arrival order."""
        return self._running.state.collector.snapshot()["events"]

    def collector_state(self) -> dict[str, Any]:
        """Everything the collector knows: events, counters, per-post log, behaviour."""
        return self._running.state.collector.snapshot()

    def set_collector(self, settings: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """E.g. `set_collector(fail=3, status=503, retry_after=0)` or `set_collector(hang=True)`;
        `set_collector()` restores normal behaviour."""
        return self._running.state.collector.configure({**(settings or {}), **kwargs})

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Poll until the collector holds at least `count` unique events (or time runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if len(events) >= count or time.monotonic() >= deadline:
                return events
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget recorded requests and collected events; collector back to normal."""
        self._running.state.reset()
