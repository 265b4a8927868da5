"""Shared pytest setup for tests/python: makes `tests/` importable (for `mock_provider`)
and offers one mock provider per session, reset before each test that uses it."""

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from mock_provider import MockProvider  # noqa: E402  (after the path insert)


@pytest.fixture(scope="session")
def mock():
    """The mock OpenAI/Anthropic API and collector, on 127.0.0.1 and a free port."""
    with MockProvider() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_mock(request):
    """Each test that uses `mock` starts with no recorded requests or events."""
    if "mock" in request.fixturenames:
        request.getfixturevalue("mock").reset()


# costline's own fixtures (a fresh ledger per test; no writes to the user's ledger).
from budget_support import budgets, redis_server  # noqa: E402,F401
from routing_support import vector_prices  # noqa: E402,F401

from costline_fixtures import ledger  # noqa: E402,F401


# Raw SDK clients against the mock (the mock provider's own tests use them).
@pytest.fixture
def oai(mock):
    import openai

    return openai.OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)


@pytest.fixture
def claude(mock):
    import anthropic

    return anthropic.Anthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0)
