"""Shared by the mock provider's own tests: request constants and raw-wire helpers."""

import json
import urllib.error
import urllib.request

OPENAI_MODEL = "gpt-4o"
ANTHROPIC_MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Say hello to the test suite, please."}]  # 36 chars: 9 tokens
OUTPUT = "Hello from the mock provider."


def raw_post(url, body, headers=None):
    """POST without an SDK: (status, headers, body bytes); to check the wire format itself."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def sse_events(payload):
    """[(event name or None, data string)] of an SSE body."""
    events = []
    for block in payload.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event"), fields["data"]))
    return events
