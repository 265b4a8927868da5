"""costline's local mock of the OpenAI and Anthropic APIs, plus a collector stand-in.

    from mock_provider import MockProvider
    with MockProvider() as mock:
        client = openai.OpenAI(base_url=mock.openai_base_url, api_key="test")

Responses are deterministic and shaped per `x-mock-*` request headers (see README.md).
"""

from .provider import MockProvider
from .scenario import BASE_WORDS, SNAPSHOTS, default_prompt_tokens

__all__ = ["BASE_WORDS", "SNAPSHOTS", "MockProvider", "default_prompt_tokens"]
