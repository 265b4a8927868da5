"""Whatever the host app or the provider does, costline records the call and
never raises into, hangs or changes the app: bad numbers, malformed usage,
oversized tags, responses without usage, streams never read, responses read
as raw bytes, events recorded at exit, and a core panic."""

from __future__ import annotations

import gc
import json
import logging

import openai
import pytest

import costline
from costline import _native
from costline.anthropic import Anthropic
from costline.openai import OpenAI
from costline_fixtures import SECRET_KEY, read_events, run_script

MESSAGES = [{"role": "user", "content": "Say hello to the mock, please, in a few words."}]


@pytest.fixture
def client(mock):
    return OpenAI(base_url=mock.openai_base_url, api_key=SECRET_KEY, max_retries=0)


@pytest.fixture
def claude(mock):
    return Anthropic(base_url=mock.anthropic_base_url, api_key=SECRET_KEY, max_retries=0)


def test_unknown_models_from_many_threads_finish_within_a_deadline(tmp_path):
    # Warnings about unknown models go to Python logging (which needs the GIL)
    # from inside the core; a lock held across that call hung the app.
    proc = run_script(
        """
        import logging, threading, time
        class Slow(logging.Handler):
            def emit(self, record):
                time.sleep(0.002)  # invites a GIL switch mid-log
        logging.getLogger("costline").addHandler(Slow())
        import costline
        def work(t):
            for i in range(200):
                costline.track(provider="openai", model=f"no-such-model-{(t * 7 + i) % 100}",
                               input_tokens=1, output_tokens=1)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(32)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert costline.flush(30)
        print("done")
        """,
        {"COSTLINE_LEDGER": str(tmp_path / "l.db")},
        timeout=120,  # a hang, not slowness: the work takes about a second
    )
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr[-2000:]
    assert len(read_events(tmp_path / "l.db")) == 32 * 200


def test_a_core_panic_reaches_python_as_a_costline_error():
    with pytest.raises(costline.CostlineError, match="internal error"):
        _native._test_panic()
    # An ordinary `except Exception` (and costline's own guard) catches it.
    assert issubclass(costline.CostlineError, Exception)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_tokens": 2**64},
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"output_tokens": "10"},
        {"input_tokens": True},
        {"input_tokens": 10, "cached_input_tokens": 11},
        {"input_tokens": 2**63 - 1, "cached_input_tokens": 2**63 - 1, "cache_write_input_tokens": 2**63 - 1},
        {"output_tokens": 5, "reasoning_tokens": 6},
    ],
)
def test_track_and_cost_reject_bad_numbers_with_a_value_error(kwargs, ledger):
    counts = {"input_tokens": 10, "output_tokens": 5, **kwargs}
    with pytest.raises(ValueError) as info:
        costline.track(provider="openai", model="gpt-4o", **counts)
    assert isinstance(info.value, costline.InvalidEventError)
    with pytest.raises(ValueError):
        costline.cost("gpt-4o", **counts)


def test_the_largest_counts_price_without_overflow(ledger):
    big = 2**63 - 1
    assert costline.cost("gpt-4o", input_tokens=big, output_tokens=big) > 0
    tracked = costline.track(provider="openai", model="gpt-4o", input_tokens=big, output_tokens=big)
    [event] = read_events(ledger)
    assert event["input_tokens"] == big and event["cost_usd"] == str(tracked.cost_usd)


@pytest.mark.parametrize(
    "usage, expected",
    [
        ({"prompt_tokens": -5, "completion_tokens": 10}, (0, 10, 0)),
        ({"prompt_tokens": "forty", "completion_tokens": 10}, (0, 10, 0)),
        ({"prompt_tokens": 40.9, "completion_tokens": 10}, (40, 10, 0)),
        ({"prompt_tokens": 40, "prompt_tokens_details": {"cached_tokens": 90}}, (40, None, 40)),
        ({"prompt_tokens": 40, "prompt_tokens_details": "lots"}, (40, None, 0)),
    ],
)
def test_malformed_provider_usage_is_recorded_as_an_estimate(client, ledger, usage, expected):
    headers = {"x-mock-prompt-tokens": "40", "x-mock-usage": json.dumps(usage)}
    response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
    assert response.choices[0].message.content  # the caller's response is untouched
    [event] = read_events(ledger)
    assert event["usage_source"] == "estimate" and event["status"] == "ok"
    input_tokens, output_tokens, cached = expected
    assert event["input_tokens"] == input_tokens and event["cached_input_tokens"] == cached
    if output_tokens is not None:
        assert event["output_tokens"] == output_tokens
    assert event["cost_usd"] is not None


def test_each_distinct_problem_is_logged_once(client, ledger, caplog):
    caplog.set_level(logging.WARNING, logger="costline")
    for usage in [{"completion_tokens": -7}] * 3 + [{"completion_tokens": "x"}] * 3:
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers={"x-mock-usage": json.dumps(usage)}
        )
    assert len(read_events(ledger)) == 6
    lines = [r.getMessage() for r in caplog.records if "completion_tokens" in r.getMessage()]
    assert len(lines) == 2, lines


def test_oversized_tags_are_truncated_not_dropped(ledger):
    tags = {f"k{i:02}": "v" for i in range(70)}
    tags["a-big-one"] = "x" * 2048
    costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, tags=tags)
    [event] = read_events(ledger)
    assert len(event["tags"]) == 64
    assert event["tags"]["a-big-one"] == "x" * 1024


def test_a_response_without_usage_is_estimated_not_free(client, claude, ledger):
    headers = {"x-mock-usage": "null"}
    response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
    assert response.usage is None
    message = claude.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, extra_headers=headers)
    assert message.content
    events = read_events(ledger)
    assert sorted(e["provider"] for e in events) == ["anthropic", "openai"]
    for event in events:
        assert event["usage_source"] == "estimate"
        assert event["input_tokens"] > 0 and event["output_tokens"] > 0
        assert event["cost_usd"] is not None and float(event["cost_usd"]) > 0


def test_a_stream_never_iterated_is_recorded_when_collected(client, claude, ledger):
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    del stream
    stream = claude.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, stream=True)
    del stream
    gc.collect()
    events = read_events(ledger)
    assert sorted(e["provider"] for e in events) == ["anthropic", "openai"]
    for event in events:
        assert event["stream"] is True and event["usage_source"] == "estimate" and event["input_tokens"] > 0


def _lines(response) -> list:
    return [line for line in response.iter_lines() if line]


def test_streaming_response_read_as_lines_is_metered_and_unchanged(client, mock, ledger):
    raw = openai.OpenAI(base_url=mock.openai_base_url, api_key=SECRET_KEY, max_retries=0)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
    with client.chat.completions.with_streaming_response.create(**kwargs) as response:
        ours = _lines(response)
    with raw.chat.completions.with_streaming_response.create(**kwargs) as response:
        theirs = _lines(response)
    # The caller asked for no usage: the bytes carry none (costline added nothing).
    assert len(ours) == len(theirs) and not any('"usage"' in line for line in ours)
    with client.chat.completions.with_streaming_response.create(
        **kwargs, stream_options={"include_usage": True}
    ) as response:
        assert any('"usage"' in line for line in _lines(response))
    with client.responses.with_streaming_response.create(model="gpt-4o", input="hi", stream=True) as response:
        response.read()
    first, second, third = read_events(ledger)
    assert first["usage_source"] == "estimate" and first["output_tokens"] > 0
    assert second["usage_source"] == "provider" and second["resolved_model"] == "gpt-4o-2024-08-06"
    assert third["operation"] == "responses" and third["usage_source"] == "provider"


def test_anthropic_streaming_response_read_as_bytes_is_metered(claude, ledger):
    kwargs = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": MESSAGES, "stream": True}
    headers = {"x-mock-prompt-tokens": "33", "x-mock-completion-tokens": "7"}
    with claude.messages.with_streaming_response.create(**kwargs, extra_headers=headers) as response:
        body = b"".join(response.iter_bytes())
    assert b"message_delta" in body
    with claude.messages.with_streaming_response.create(**kwargs) as response:
        pass  # closed unread: still one event
    full, unread = read_events(ledger)
    assert (full["input_tokens"], full["output_tokens"], full["usage_source"]) == (33, 7, "provider")
    assert unread["usage_source"] == "estimate" and unread["input_tokens"] > 0


def test_non_stream_streaming_response_read_as_json_is_metered(client, ledger):
    headers = {"x-mock-prompt-tokens": "12", "x-mock-completion-tokens": "3"}
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=MESSAGES, extra_headers=headers
    ) as response:
        assert response.json()["usage"]["prompt_tokens"] == 12
    [event] = read_events(ledger)
    assert (event["input_tokens"], event["output_tokens"], event["usage_source"]) == (12, 3, "provider")


def test_events_recorded_by_atexit_handlers_registered_earlier_are_kept(tmp_path):
    path = tmp_path / "atexit.db"
    proc = run_script(
        """
        import atexit
        def late():
            import costline
            for i in range(50):
                costline.track(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
        atexit.register(late)  # registered first, so it runs after costline's own exit hook
        import costline
        costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
        """,
        {"COSTLINE_LEDGER": str(path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert len(read_events(path)) == 51


def test_late_atexit_events_are_kept_even_when_the_collector_hangs(tmp_path, mock):
    mock.set_collector(hang=True)
    path = tmp_path / "atexit-hung.db"
    proc = run_script(
        """
        import atexit
        def late():
            import costline
            for i in range(20):
                costline.track(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
        atexit.register(late)
        import costline
        costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
        """,
        {"COSTLINE_LEDGER": str(path), "COSTLINE_BASE_URL": mock.url},
    )
    mock.set_collector()
    assert proc.returncode == 0, proc.stderr
    assert len(read_events(path)) == 21  # in the ledger, waiting for the collector


def test_slow_first_uses_release_the_gil(tmp_path):
    # The first track() parses the catalog, the first count_tokens() builds an
    # encoder: milliseconds of native work. Another Python thread must keep
    # running meanwhile; with the GIL held it would get only the switch
    # intervals around the call (1 ms each here), a few percent of a 50 ms call.
    # The bound is a tenth of its free speed, not more: on a loaded machine the
    # spinner shares its core with the native work and other processes.
    proc = run_script(
        """
        import sys, threading, time
        import costline
        sys.setswitchinterval(0.001)
        ticks = 0
        stop = False
        def spin():
            global ticks
            while not stop:
                ticks += 1
        t = threading.Thread(target=spin)
        t.start()
        for label, work in (
            ("track", lambda: costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)),
            ("count_tokens", lambda: costline.count_tokens("hello " * 50000, "gpt-4o")),
        ):
            before, started = ticks, time.perf_counter()
            time.sleep(0.05)  # the main thread idle: the spinner's free speed
            free = (ticks - before) / (time.perf_counter() - started)
            before, started = ticks, time.perf_counter()
            work()
            took = time.perf_counter() - started
            print(label, (ticks - before) / took / free, took)
        stop = True
        t.join()
        """,
        {"COSTLINE_LEDGER": str(tmp_path / "gil.db")},
    )
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        label, speed, took = line.split()
        if float(took) > 0.05:  # long enough for a held GIL to show
            assert float(speed) > 0.1, line
