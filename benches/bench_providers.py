"""The Gemini, Mistral and Bedrock drop-ins' added time per call, side by side
with the raw SDK client, in one run against the local mock provider (loopback
HTTP: both clients pay the same network and server time, so the difference is
costline's). Part of `make bench`."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

BENCH_DIR = None if "COSTLINE_LEDGER" in os.environ else tempfile.mkdtemp(prefix="costline-bench-")
if BENCH_DIR:
    os.environ["COSTLINE_LEDGER"] = os.path.join(BENCH_DIR, "bench.db")


def remove_bench_ledger() -> None:
    """The bench's own ledger (hundreds of MB after the RSS run) goes once its events are written."""
    if BENCH_DIR:
        import shutil

        import costline

        costline.shutdown(30)
        shutil.rmtree(BENCH_DIR, ignore_errors=True)


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3  # noqa: E402
from bench_python import side_by_side  # noqa: E402
from google import genai  # noqa: E402
from mistralai.client import Mistral as RawMistral  # noqa: E402

from costline import bedrock  # noqa: E402
from costline.google import Client as Gemini  # noqa: E402
from costline.mistral import Mistral  # noqa: E402
from mock_provider import MockProvider  # noqa: E402

N = 300
MESSAGES = [{"role": "user", "content": "Say hello."}]


def main() -> None:
    with MockProvider() as mock:
        options = {"base_url": mock.gemini_base_url}
        raw_g, ours_g = genai.Client(api_key="k", http_options=options), Gemini(api_key="k", http_options=options)
        side_by_side(
            "gemini models.generate_content",
            lambda: raw_g.models.generate_content(model="gemini-2.5-flash", contents="hi"),
            lambda: ours_g.models.generate_content(model="gemini-2.5-flash", contents="hi"),
            n=N,
        )
        side_by_side(
            "gemini generate_content_stream, 5 chunks",
            lambda: list(raw_g.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")),
            lambda: list(ours_g.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")),
            n=N,
        )
        raw_m = RawMistral(api_key="k", server_url=mock.mistral_server_url)
        ours_m = Mistral(api_key="k", server_url=mock.mistral_server_url)
        side_by_side(
            "mistral chat.complete",
            lambda: raw_m.chat.complete(model="mistral-small-latest", messages=MESSAGES),
            lambda: ours_m.chat.complete(model="mistral-small-latest", messages=MESSAGES),
            n=N,
        )
        side_by_side(
            "mistral chat.stream, 5 chunks + usage",
            lambda: list(raw_m.chat.stream(model="mistral-small-latest", messages=MESSAGES)),
            lambda: list(ours_m.chat.stream(model="mistral-small-latest", messages=MESSAGES)),
            n=N,
        )
        aws = dict(
            region_name="us-east-1",
            endpoint_url=mock.bedrock_endpoint_url,
            aws_access_key_id="AKIDBENCH",
            aws_secret_access_key="bench",
        )
        raw_b, ours_b = boto3.client("bedrock-runtime", **aws), bedrock.client(**aws)
        model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
        converse = [{"role": "user", "content": [{"text": "hi"}]}]
        side_by_side(
            "bedrock converse",
            lambda: raw_b.converse(modelId=model, messages=converse),
            lambda: ours_b.converse(modelId=model, messages=converse),
            n=N,
        )
        side_by_side(
            "bedrock converse_stream, 9 events",
            lambda: list(raw_b.converse_stream(modelId=model, messages=converse)["stream"]),
            lambda: list(ours_b.converse_stream(modelId=model, messages=converse)["stream"]),
            n=N,
        )
        body = json.dumps({"prompt": "hi"})
        side_by_side(
            "bedrock invoke_model (token-count headers)",
            lambda: raw_b.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=body)["body"].read(),
            lambda: ours_b.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=body)["body"].read(),
            n=N,
        )


if __name__ == "__main__":
    main()
    remove_bench_ledger()
