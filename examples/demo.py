"""costline demo: a small multi-agent app against the local mock provider.

Runs a "support bot" whose triage agent calls OpenAI, a lookup sub-agent that
streams from Anthropic, a writer that uses the Responses API, and a research
sub-agent that asks Gemini, Mistral and Bedrock; then prints `costline report
--by agent,model` and `--by provider,model` for the ledger it wrote. No network:
the mock provider listens on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
# The demo's own ledger, emptied first (never the user's): .demo/ledger.db, or the path given.
LEDGER = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / ".demo" / "ledger.db"
os.environ["COSTLINE_LEDGER"] = str(LEDGER)
for suffix in ("", "-wal", "-shm"):
    Path(str(LEDGER) + suffix).unlink(missing_ok=True)

import costline  # noqa: E402
from costline import bedrock  # noqa: E402
from costline.anthropic import AsyncAnthropic  # noqa: E402
from costline.google import Client as Gemini  # noqa: E402
from costline.mistral import Mistral  # noqa: E402
from costline.openai import OpenAI  # noqa: E402
from mock_provider import MockProvider  # noqa: E402


def main() -> None:
    with MockProvider() as mock:
        costline.configure(tags={"feature": "support-bot"})
        openai_client = OpenAI(base_url=mock.openai_base_url, api_key="demo-key")
        gemini = Gemini(api_key="demo-key", http_options={"base_url": mock.gemini_base_url})
        mistral = Mistral(api_key="demo-key", server_url=mock.mistral_server_url)
        aws = bedrock.client(
            region_name="us-east-1",
            endpoint_url=mock.bedrock_endpoint_url,
            aws_access_key_id="demo",
            aws_secret_access_key="demo-secret",
        )

        for customer in ("acme", "globex", "initech"):
            with costline.run(agent="triage", tags={"customer": customer}) as run:
                openai_client.chat.completions.create(
                    model="gpt-4o",
                    messages=[{"role": "user", "content": f"Classify the ticket from {customer}."}],
                    extra_headers={"x-mock-prompt-tokens": "1200", "x-mock-cached-tokens": "400"},
                )
                with costline.run(agent="lookup"):
                    asyncio.run(lookup(mock.anthropic_base_url, customer))
                openai_client.with_agent("writer").responses.create(
                    model="gpt-4o-mini", input="Draft the reply.", extra_headers={"x-mock-reasoning-tokens": "0"}
                )
                for _chunk in openai_client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise."}], stream=True
                ):
                    pass
                with costline.run(agent="research"):
                    research(gemini, mistral, aws, customer)
            print(f"run {run.run_id}  customer={customer:<8} calls={run.calls}  cost=${run.cost_usd}")

        assert costline.flush(10), "events did not reach the ledger"

    print()
    shown = LEDGER.relative_to(ROOT) if LEDGER.is_relative_to(ROOT) else LEDGER
    print(f"$ costline report --by agent,model   (ledger: {shown})")
    sys.stdout.flush()
    subprocess.run(
        [sys.executable, "-m", "costline", "report", "--ledger", str(LEDGER), "--by", "agent,model"], check=True
    )
    print()
    print("$ costline report --by provider,model")
    sys.stdout.flush()
    subprocess.run(
        [sys.executable, "-m", "costline", "report", "--ledger", str(LEDGER), "--by", "provider,model"], check=True
    )


def research(gemini: Gemini, mistral: Mistral, aws: object, customer: str) -> None:
    question = f"What do we know about {customer}?"
    for _chunk in gemini.models.generate_content_stream(model="gemini-2.5-flash", contents=question):
        pass
    mistral.chat.complete(model="mistral-small-latest", messages=[{"role": "user", "content": question}])
    aws.converse(  # type: ignore[attr-defined]
        modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        messages=[{"role": "user", "content": [{"text": question}]}],
    )


async def lookup(base_url: str, customer: str) -> None:
    # One async client per event loop: asyncio.run() makes a new loop each time.
    # Closed inside its loop: a client left to the garbage collector closes its
    # connections after the loop is gone ("Event loop is closed").
    async with AsyncAnthropic(base_url=base_url, api_key="demo-key") as client:
        async with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": f"Find the account of {customer}."}],
            extra_headers={"x-mock-cached-tokens": "2000", "x-mock-cache-write-5m": "300"},
        ) as stream:
            async for _ in stream.text_stream:
                pass


if __name__ == "__main__":
    main()
