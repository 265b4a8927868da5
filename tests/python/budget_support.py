"""Shared by the budget tests: a priced test model whose calls cost what the
test says, budgets installed and removed around a test, a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from decimal import Decimal
from typing import Any, Dict, Iterator

import pytest

import costline

# $0.00001 per token in and out: a call with 1 prompt and 1000 completion tokens costs $0.01001.
PRICES = {"budget-model": {"input": "0.00001", "output": "0.00001"}}
MESSAGES = [{"role": "user", "content": "hi"}]
# The mock answers with exactly max_tokens output tokens, so actual = worst case (less the prompt's framing).
MAX_TOKENS = 1000
HEADERS = {"x-mock-prompt-tokens": "1", "x-mock-completion-tokens": str(MAX_TOKENS)}
ACTUAL = Decimal("0.01001")


def chat(client: Any, **extra: Any) -> Any:
    headers = {**HEADERS, **extra.pop("extra_headers", {})}
    return client.chat.completions.create(
        model="budget-model", messages=MESSAGES, max_tokens=MAX_TOKENS, extra_headers=headers, **extra
    )


def status(name: str = "global/day") -> Dict[str, Any]:
    # Calls outside a run settle on the writer thread: wait until it has them.
    assert costline.flush(30)
    [row] = [r for r in costline.budget_status() if r["name"] == name]
    return row


@pytest.fixture
def budgets(ledger) -> Iterator[Any]:
    """`budgets(*Budget, **configure_kwargs)` installs budgets for this test (memory store unless told)."""
    costline.configure(prices=PRICES)

    def install(*items: costline.Budget, **kwargs: Any) -> None:
        kwargs.setdefault("budget_store", "memory")
        costline.configure(budgets=list(items), **kwargs)

    yield install
    costline.flush(30)
    costline.configure(budgets=[], budget_store="", redis_url="", budget_fail_mode="open", prices={})


class RedisServer:
    """A redis-server on a free 127.0.0.1 port (the test fails when it is not installed: .ci/run installs it)."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is required (apt-get install -y redis-server; .ci/run installs it)"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()
