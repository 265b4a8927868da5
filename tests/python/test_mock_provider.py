"""The mock provider speaks the OpenAI and Anthropic APIs faithfully enough that the
real SDKs parse everything it sends, and its knobs (usage headers, faults, collector
behaviour) do what the other tests rely on."""

import json
import sys
import time

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from mock_helpers import ANTHROPIC_MODEL, MESSAGES, OPENAI_MODEL, OUTPUT, raw_post, sse_events  # noqa: F401
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from mock_provider import BASE_WORDS, default_prompt_tokens

# --- OpenAI chat completions ---------------------------------------------------------------


def test_chat_completion_answers_with_dated_snapshot_and_deterministic_usage(oai):
    completion = oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES)
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.choices[0].message.content == OUTPUT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == default_prompt_tokens({"messages": MESSAGES}) == 9
    assert completion.usage.completion_tokens == len(BASE_WORDS)
    assert completion.usage.total_tokens == 9 + 5
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0
    assert completion.service_tier == "default"


def test_usage_headers_override_every_count(oai):
    completion = oai.chat.completions.create(
        model=OPENAI_MODEL,
        messages=MESSAGES,
        extra_headers={
            "x-mock-prompt-tokens": "1000",
            "x-mock-completion-tokens": "500",
            "x-mock-cached-tokens": "200",
            "x-mock-reasoning-tokens": "120",
            "x-mock-resolved-model": "gpt-4o-2024-11-20",
            "x-mock-service-tier": "flex",
            "x-mock-usage": json.dumps({"prompt_tokens_details": {"audio_tokens": 30}}),
        },
    )
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1000, 500, 1500)
    assert usage.prompt_tokens_details.cached_tokens == 200
    assert usage.prompt_tokens_details.audio_tokens == 30
    assert usage.completion_tokens_details.reasoning_tokens == 120
    assert completion.model == "gpt-4o-2024-11-20"
    assert completion.service_tier == "flex"


def test_reasoning_tokens_are_counted_inside_completion_tokens(oai):
    completion = oai.chat.completions.create(
        model="o3", messages=MESSAGES, extra_headers={"x-mock-reasoning-tokens": "40"}
    )
    assert completion.model == "o3-2025-04-16"
    assert completion.usage.completion_tokens == 5 + 40


def test_unknown_model_is_echoed_back(oai):
    completion = oai.chat.completions.create(model="my-private-model", messages=MESSAGES)
    assert completion.model == "my-private-model"


def test_max_tokens_cuts_output_and_reports_length(oai):
    completion = oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, max_completion_tokens=2)
    assert completion.choices[0].message.content == "Hello from"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 2


def test_chat_stream_without_include_usage_has_no_usage_anywhere(oai, mock):
    chunks = list(oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, stream=True))
    assert len(chunks) == 1 + 5 + 1  # role, one delta per word, finish
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == OUTPUT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all("usage" not in chunk.model_fields_set for chunk in chunks)
    assert mock.requests()[-1]["stream_options"] is None


def test_chat_stream_with_include_usage_ends_with_a_usage_only_chunk(oai, mock):
    chunks = list(
        oai.chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(chunks) == 1 + 5 + 1 + 1
    *content_chunks, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage.prompt_tokens == 9 and usage_chunk.usage.completion_tokens == 5
    # Like the real API: every earlier chunk carries an explicit `"usage": null`.
    assert all("usage" in c.model_fields_set and c.usage is None for c in content_chunks)
    assert mock.requests()[-1]["stream_options"] == {"include_usage": True}


def test_chat_stream_wire_format_is_data_lines_then_done(mock):
    status, headers, payload = raw_post(
        mock.openai_base_url + "/chat/completions",
        {"model": OPENAI_MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse_events(payload)
    assert events[-1] == (None, "[DONE]")
    for _, data in events[:-1]:
        ChatCompletionChunk.model_validate_json(data)  # strict validation, every field


def test_x_mock_chunks_sets_the_number_of_content_deltas(oai):
    chunks = list(
        oai.chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, stream=True, extra_headers={"x-mock-chunks": "12"}
        )
    )
    deltas = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) == 12


def test_chat_stream_helper_completes(oai):
    with oai.chat.completions.stream(
        model=OPENAI_MODEL, messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    # 1 + 5: the SDK reports the role chunk's empty content as a delta too.
    assert kinds.count("content.delta") == 1 + 5 and "content.done" in kinds
    assert final.choices[0].message.content == OUTPUT
    assert final.usage.completion_tokens == 5


def test_plain_completion_validates_strictly(mock):
    status, _, payload = raw_post(mock.openai_base_url + "/chat/completions", {"model": "gpt-4o", "messages": []})
    assert status == 200
    ChatCompletion.model_validate_json(payload)


# --- OpenAI responses, embeddings, models -----------------------------------------------------


def test_responses_plain_carries_usage(oai):
    response = oai.responses.create(
        model="gpt-4o-mini", input="Say hello.", extra_headers={"x-mock-cached-tokens": "3"}
    )
    assert response.output_text == OUTPUT
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.status == "completed"
    assert response.usage.input_tokens == 3  # raised to cover the cached part
    assert response.usage.input_tokens_details.cached_tokens == 3
    assert response.usage.output_tokens == 5


def test_responses_stream_emits_the_full_event_sequence(oai):
    events = list(oai.responses.create(model=OPENAI_MODEL, input="Say hello.", stream=True))
    kinds = [event.type for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].response.usage is None
    assert events[-1].response.usage.output_tokens == 5


def test_responses_stream_wire_format_validates_strictly(mock):
    status, _, payload = raw_post(
        mock.openai_base_url + "/responses", {"model": "gpt-4o", "input": "hi", "stream": True}
    )
    assert status == 200
    adapter = TypeAdapter(ResponseStreamEvent)
    for name, data in sse_events(payload):
        event = adapter.validate_json(data)
        assert event.type == name  # the `event:` line names the type, as the API does
    Response.model_validate(json.loads(sse_events(payload)[-1][1])["response"])


def test_responses_stream_helper_completes(oai):
    with oai.responses.stream(model=OPENAI_MODEL, input="Say hello.") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == OUTPUT
    assert final.usage.total_tokens == final.usage.input_tokens + 5


def test_embeddings_default_request_is_base64_and_sdk_decodes_it(oai, mock):
    default = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert mock.requests()[-1]["body"]["encoding_format"] == "base64"  # the SDK asks for it
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float")
    assert [e.embedding for e in default.data] == [e.embedding for e in floats.data]
    assert len(default.data) == 2 and len(default.data[0].embedding) == 8
    assert default.usage.prompt_tokens == default.usage.total_tokens == 2 + 1  # ceil(chars / 4) each
    assert default.model == "text-embedding-3-small"


def test_embeddings_honour_dimensions_and_validate_strictly(mock):
    status, _, payload = raw_post(
        mock.openai_base_url + "/embeddings",
        {"model": "text-embedding-3-large", "input": "x" * 40, "dimensions": 64, "encoding_format": "float"},
    )
    assert status == 200
    parsed = CreateEmbeddingResponse.model_validate_json(payload)
    assert len(parsed.data[0].embedding) == 64 and parsed.usage.prompt_tokens == 10


def test_models_list_in_each_providers_shape(oai, claude):
    assert "gpt-4o" in [model.id for model in oai.models.list()]
    assert all(model.type == "model" for model in claude.models.list())


# --- Anthropic -------------------------------------------------------------------------------------


def test_message_plain_carries_all_usage_fields(claude):
    message = claude.messages.create(model=ANTHROPIC_MODEL, max_tokens=100, messages=MESSAGES)
    assert message.model == "claude-haiku-4-5-20251001"
    assert message.content[0].text == OUTPUT
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (9, 5)
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.cache_creation.ephemeral_1h_input_tokens == 0


def test_message_cache_headers_fill_read_and_both_write_ttls(claude):
    message = claude.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=100,
        messages=MESSAGES,
        extra_headers={
            "x-mock-prompt-tokens": "50",
            "x-mock-cached-tokens": "1000",
            "x-mock-cache-write-5m": "300",
            "x-mock-cache-write-1h": "200",
            "x-mock-reasoning-tokens": "7",
        },
    )
    usage = message.usage
    assert usage.input_tokens == 50  # Anthropic's input excludes cache reads and writes
    assert usage.cache_read_input_tokens == 1000
    assert usage.cache_creation_input_tokens == 500
    assert (usage.cache_creation.ephemeral_5m_input_tokens, usage.cache_creation.ephemeral_1h_input_tokens) == (
        300,
        200,
    )
    assert usage.output_tokens == 5 + 7 and usage.output_tokens_details.thinking_tokens == 7


def test_message_stream_splits_usage_between_start_and_delta(claude):
    events = list(
        claude.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=100,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-cached-tokens": "40", "x-mock-cache-write-5m": "6"},
        )
    )
    kinds = [event.type for event in events]  # the SDK drops `ping`
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start_usage = events[0].message.usage
    assert start_usage.input_tokens == 9 and start_usage.cache_read_input_tokens == 40
    assert start_usage.cache_creation.ephemeral_5m_input_tokens == 6
    assert start_usage.output_tokens == 1
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == 5 and delta.usage.input_tokens is None


def test_message_stream_full_delta_usage_on_request(claude):
    events = list(
        claude.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=100,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-delta-usage": "full", "x-mock-cached-tokens": "40"},
        )
    )
    usage = events[-2].usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (9, 40, 5)


def test_message_stream_wire_format_has_event_lines_and_ping(mock):
    status, _, payload = raw_post(
        mock.anthropic_base_url + "/v1/messages",
        {"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": MESSAGES, "stream": True},
    )
    assert status == 200
    events = sse_events(payload)
    assert [name for name, _ in events][:3] == ["message_start", "content_block_start", "ping"]
    adapter = TypeAdapter(RawMessageStreamEvent)
    for name, data in events:
        if name != "ping":
            assert adapter.validate_json(data).type == name
    status, _, payload = raw_post(
        mock.anthropic_base_url + "/v1/messages", {"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": MESSAGES}
    )
    Message.model_validate_json(payload)


def test_messages_stream_helper_completes(claude):
    with claude.messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=100, messages=MESSAGES, extra_headers={"x-mock-cached-tokens": "5"}
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == OUTPUT
    assert final.usage.output_tokens == 5 and final.usage.cache_read_input_tokens == 5


def test_max_tokens_stops_an_anthropic_message(claude):
    message = claude.messages.create(model=ANTHROPIC_MODEL, max_tokens=3, messages=MESSAGES)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def test_count_tokens(claude, mock):
    counted = claude.messages.count_tokens(model=ANTHROPIC_MODEL, messages=MESSAGES)
    assert counted.input_tokens == 9
    override = claude.messages.count_tokens(
        model=ANTHROPIC_MODEL, messages=MESSAGES, extra_headers={"x-mock-prompt-tokens": "77"}
    )
    assert override.input_tokens == 77
    status, _, payload = raw_post(mock.url + "/v1/messages/count_tokens", {"model": "m", "messages": MESSAGES})
    assert status == 200
    MessageTokensCount.model_validate_json(payload)


# --- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, openai_error, anthropic_error",
    [
        ("429", openai.RateLimitError, anthropic.RateLimitError),
        ("500", openai.InternalServerError, anthropic.InternalServerError),
        ("401", openai.AuthenticationError, anthropic.AuthenticationError),
        ("529", openai.InternalServerError, anthropic.OverloadedError),
    ],
)
def test_injected_status_raises_the_sdk_exception(oai, claude, status, openai_error, anthropic_error):
    headers = {"x-mock-error": status}
    with pytest.raises(openai_error) as openai_raised:
        oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers=headers)
    with pytest.raises(anthropic_error) as anthropic_raised:
        claude.messages.create(model=ANTHROPIC_MODEL, max_tokens=10, messages=MESSAGES, extra_headers=headers)
    assert openai_raised.value.status_code == anthropic_raised.value.status_code == int(status)
    assert openai_raised.value.request_id and anthropic_raised.value.request_id
    assert anthropic_raised.value.body["type"] == "error"


def test_injected_error_before_a_stream_raises_on_create(oai, claude):
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, stream=True, extra_headers={"x-mock-error": "429"}
        )
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=MESSAGES, stream=True, extra_headers={"x-mock-error": "500"}
        )


def test_sdk_retries_are_recorded_as_attempts_and_are_fast(mock):
    client = openai.OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=2)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers={"x-mock-error": "429"})
    assert time.monotonic() - started < 1.0  # retry-after-ms: 1, not the SDK's 0.5 s+ backoff
    assert [(r["attempt"], r["status"]) for r in mock.requests()] == [(0, 429), (1, 429), (2, 429)]


def test_error_times_fails_only_the_first_attempts(mock):
    client = anthropic.Anthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=2)
    message = client.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=10,
        messages=MESSAGES,
        extra_headers={"x-mock-error": "529", "x-mock-error-times": "1"},
    )
    assert message.content[0].text == OUTPUT
    assert [r["status"] for r in mock.requests("/v1/messages")] == [529, 200]


def test_slow_delays_the_answer_and_can_trip_a_timeout(oai):
    started = time.monotonic()
    oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers={"x-mock-error": "slow:300"})
    assert time.monotonic() - started >= 0.3
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.1).chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, extra_headers={"x-mock-error": "slow:1000"}
        )


# openai 3 wraps a connection dropped mid-stream in APIConnectionError; openai 1-2 let
# the transport's own error (httpx RemoteProtocolError) through.
CUT_STREAM_ERRORS = (
    openai.APIConnectionError,
    *(
        getattr(module, "RemoteProtocolError", openai.APIConnectionError)
        for module in (sys.modules.get("httpx"), sys.modules.get("httpx2"))
        if module is not None
    ),
)


def test_cut_openai_stream_raises_connection_error_after_n_chunks(oai, mock):
    received = []
    with pytest.raises(CUT_STREAM_ERRORS):
        for chunk in oai.chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, stream=True, extra_headers={"x-mock-error": "cut:3"}
        ):
            received.append(chunk)  # noqa: PERF402 - keeps what arrived before the cut
    assert len(received) == 3
    assert mock.requests()[-1]["cut"] is True


def test_cut_responses_stream_raises_connection_error(oai):
    received = []
    with pytest.raises(CUT_STREAM_ERRORS):
        for event in oai.responses.create(
            model=OPENAI_MODEL, input="hi", stream=True, extra_headers={"x-mock-error": "cut:4"}
        ):
            received.append(event.type)
    assert received[-1] == "response.content_part.added"


def test_cut_anthropic_stream_raises_the_transport_error_unwrapped(claude):
    # anthropic's Stream does not wrap transport errors met while iterating:
    # the caller sees httpx2's RemoteProtocolError (incomplete chunked read).
    received = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for event in claude.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=10,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-error": "cut:2"},
        ):
            received.append(event.type)
    assert received == ["message_start", "content_block_start"]


def test_cut_plain_response_is_a_connection_error(oai):
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers={"x-mock-error": "cut:10"})


def test_midstream_error_raises_inside_the_stream(oai, claude):
    openai_chunks = []
    with pytest.raises(openai.APIError) as openai_raised:
        for chunk in oai.chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, stream=True, extra_headers={"x-mock-error": "midstream-error"}
        ):
            openai_chunks.append(chunk)  # noqa: PERF402 - keeps what arrived before the error
    assert len(openai_chunks) == 1 + 2 and "midstream" in openai_raised.value.message
    kinds = []
    with pytest.raises(anthropic.APIStatusError) as anthropic_raised:
        for event in claude.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=10,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-error": "midstream-error"},
        ):
            kinds.append(event.type)
    assert kinds[0] == "message_start" and "message_delta" not in kinds
    assert anthropic_raised.value.body["error"]["type"] == "overloaded_error"


def test_midstream_error_ends_a_responses_stream_with_failed(oai):
    events = list(
        oai.responses.create(
            model=OPENAI_MODEL, input="hi", stream=True, extra_headers={"x-mock-error": "midstream-error"}
        )
    )
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.error.code == "server_error"


def test_chunk_delay_spaces_stream_events_and_early_close_is_harmless(oai):
    started = time.monotonic()
    stream = oai.chat.completions.create(
        model=OPENAI_MODEL,
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-mock-chunks": "3", "x-mock-chunk-delay-ms": "50"},
    )
    first = next(iter(stream))
    stream.close()  # the caller stops early; the server must shrug it off
    assert first.choices[0].delta.role == "assistant"
    assert len(list(oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, stream=True))) == 7
    chunks = list(
        oai.chat.completions.create(
            model=OPENAI_MODEL,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-chunks": "3", "x-mock-chunk-delay-ms": "50"},
        )
    )
    assert len(chunks) == 5 and time.monotonic() - started >= 5 * 0.05


def test_openai_cache_write_header_fills_both_apis(oai):
    headers = {"x-mock-cache-write-tokens": "64", "x-mock-cached-tokens": "10"}
    completion = oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers=headers)
    assert completion.usage.prompt_tokens_details.cache_write_tokens == 64
    assert completion.usage.prompt_tokens == 74  # raised to hold cached reads and writes
    response = oai.responses.create(model=OPENAI_MODEL, input="hi", extra_headers=headers)
    assert response.usage.input_tokens_details.cache_write_tokens == 64


def test_nonsense_knob_is_a_bad_request(oai):
    with pytest.raises(openai.BadRequestError, match="x-mock-chunks"):
        oai.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES, extra_headers={"x-mock-chunks": "many"})


# --- async clients ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_openai_stream_and_helper(mock):
    client = openai.AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)
    stream = await client.chat.completions.create(
        model=OPENAI_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 8 and chunks[-1].usage.completion_tokens == 5
    async with client.chat.completions.stream(model=OPENAI_MODEL, messages=MESSAGES) as helper:
        final = await helper.get_final_completion()
    assert final.choices[0].message.content == OUTPUT
    response = await client.responses.create(model=OPENAI_MODEL, input="hi")
    assert response.usage.output_tokens == 5
    with pytest.raises(openai.RateLimitError):
        await client.embeddings.create(model="text-embedding-3-small", input="x", extra_headers={"x-mock-error": "429"})


@pytest.mark.asyncio
async def test_async_anthropic_stream_and_helper(mock):
    client = anthropic.AsyncAnthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0)
    stream = await client.messages.create(model=ANTHROPIC_MODEL, max_tokens=10, messages=MESSAGES, stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    async with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=10, messages=MESSAGES) as helper:
        final = await helper.get_final_message()
    assert final.usage.output_tokens == 5
    with pytest.raises(anthropic.AuthenticationError):
        await client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=10, messages=MESSAGES, extra_headers={"x-mock-error": "401"}
        )


# --- x-mock-tool-call: plain and streamed ----------------------------------------------------

TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
TOOL_HEADERS = {"x-mock-tool-call": "get_weather " + json.dumps(TOOL_ARGS)}
# How each API says "the answer is a tool call" at the end of a stream.
TOOL_FINISH = {"openai": "tool_calls", "anthropic": "tool_use", "google": "STOP", "mistral": "tool_calls"}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google", "mistral", "bedrock"])
def test_tool_call_header_shapes_the_stream_as_that_tool_call(mock, provider):
    from fallback_support import call, raw_target, stream_items, stream_tool_call

    client = raw_target(mock, provider, headers=TOOL_HEADERS)
    items = stream_items(provider, call(client, provider, stream=True))
    call_id, name, args, finish = stream_tool_call(provider, items)
    assert (name, args, finish) == ("get_weather", TOOL_ARGS, TOOL_FINISH.get(provider, "tool_use"))
    assert call_id or provider == "google"  # Gemini's REST API gives function calls no id


def test_streamed_tool_calls_satisfy_the_sdks_own_accumulators(oai, claude):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with oai.chat.completions.stream(
        model=OPENAI_MODEL, messages=MESSAGES, tools=tools, extra_headers=TOOL_HEADERS
    ) as stream:
        completion = stream.get_final_completion()
    [tool_call] = completion.choices[0].message.tool_calls
    assert json.loads(tool_call.function.arguments) == TOOL_ARGS
    assert completion.choices[0].finish_reason == "tool_calls"
    with claude.messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=50, messages=MESSAGES, extra_headers=TOOL_HEADERS
    ) as stream:
        message = stream.get_final_message()
    assert [(b.type, b.name, b.input) for b in message.content] == [("tool_use", "get_weather", TOOL_ARGS)]
    assert message.stop_reason == "tool_use"


def test_streamed_openai_tool_call_chunks_validate_strictly(mock):
    body = {"model": OPENAI_MODEL, "messages": MESSAGES, "stream": True}
    status, _, payload = raw_post(mock.openai_base_url + "/chat/completions", body, TOOL_HEADERS)
    assert status == 200
    datas = [data for _, data in sse_events(payload) if data != "[DONE]"]
    chunks = [ChatCompletionChunk.model_validate_json(d) for d in datas]
    assert chunks[0].choices[0].delta.tool_calls[0].function.arguments == ""
    assert len([c for c in chunks if c.choices[0].delta.tool_calls]) > 2, "arguments come in pieces"
