"""The mock provider's bookkeeping: recorded requests, the collector stand-in, the server process."""

import gzip
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from mock_helpers import ANTHROPIC_MODEL, MESSAGES, OPENAI_MODEL, OUTPUT, raw_post, sse_events  # noqa: F401

# --- recording, collector, process ------------------------------------------------------------------


def test_requests_record_what_the_sdk_sent(oai, mock):
    oai.chat.completions.create(
        model=OPENAI_MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mock-chunks": "2"},
    ).close()
    (record,) = mock.requests()
    assert record["path"] == "/v1/chat/completions" and record["provider"] == "openai"
    assert record["model"] == OPENAI_MODEL and record["stream"] is True
    assert record["headers"]["authorization"] == "Bearer test"
    assert record["headers"]["x-mock-chunks"] == "2"
    assert record["body"]["messages"] == MESSAGES
    assert raw_post(mock.url + "/_mock/reset", {})[0] == 200
    assert mock.requests() == []


def post_events(mock, batch, timeout=5):
    return raw_post(mock.url + "/v1/events", batch, {"authorization": "Bearer collector-key"})


def test_collector_stores_batches_and_counts_duplicates(mock):
    assert post_events(mock, [{"event_id": "a"}, {"event_id": "b"}])[0] == 200
    status, _, payload = post_events(mock, {"events": [{"event_id": "b"}, {"event_id": "c"}]})
    assert status == 200 and json.loads(payload) == {"accepted": 1, "duplicates": 1}
    assert [e["event_id"] for e in mock.events()] == ["a", "b", "c"]
    state = mock.collector_state()
    assert state["counters"]["received_events"] == 4
    assert state["counters"]["unique_events"] == 3 and state["counters"]["duplicate_events"] == 1
    assert state["posts"][0]["headers"]["authorization"] == "Bearer collector-key"
    with urllib.request.urlopen(mock.url + "/_mock/events") as response:
        assert json.load(response)["counters"]["posts"] == 2


def test_collector_fails_the_next_n_posts_then_recovers(mock):
    raw_post(mock.url + "/_mock/collector", {"fail": 2, "status": 503, "retry_after": 0})
    first = post_events(mock, [{"event_id": "a"}])
    second = post_events(mock, [{"event_id": "a"}])
    third = post_events(mock, [{"event_id": "a"}])
    assert [first[0], second[0], third[0]] == [503, 503, 200]
    assert first[1]["retry-after"] == "0"
    assert mock.collector_state()["counters"]["failed_posts"] == 2
    assert len(mock.events()) == 1


def test_collector_hang_holds_posts_until_released(mock):
    mock.set_collector(hang=True)
    request = urllib.request.Request(mock.url + "/v1/events", data=b'[{"event_id": "h"}]')
    with pytest.raises(OSError):  # the client gives up: a timeout
        urllib.request.urlopen(request, timeout=0.3)
    results = []
    poster = threading.Thread(target=lambda: results.append(post_events(mock, [{"event_id": "i"}])[0]))
    poster.start()
    time.sleep(0.2)
    assert results == []
    mock.set_collector()  # back to normal: held posts are answered
    poster.join(5)
    assert results == [200]
    assert {e["event_id"] for e in mock.wait_for_events(2)} == {"h", "i"}


def test_collector_accepts_gzip_and_json_lines_and_fails_until_told(mock):
    lines = b'{"event_id": "g1"}\n{"event_id": "g2"}\n'
    request = urllib.request.Request(
        mock.url + "/v1/events", data=gzip.compress(lines), headers={"content-encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response) == {"accepted": 2, "duplicates": 0}
    mock.set_collector(fail=-1, status=500)
    assert [post_events(mock, [{"event_id": "x"}])[0] for _ in range(3)] == [500, 500, 500]
    mock.set_collector()
    assert post_events(mock, [{"event_id": "x"}])[0] == 200
    assert [e["event_id"] for e in mock.events()] == ["g1", "g2", "x"]


def test_collector_rejects_unknown_settings(mock):
    status, _, payload = raw_post(mock.url + "/_mock/collector", {"explode": True})
    assert status == 400 and "explode" in json.loads(payload)["error"]


def test_server_script_prints_its_url_and_stops_on_sigterm():
    script = Path(__file__).resolve().parent.parent / "mock_provider" / "server.py"
    process = subprocess.Popen([sys.executable, str(script), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("MOCK_URL=http://127.0.0.1:")
        url = line.split("=", 1)[1]
        with urllib.request.urlopen(url + "/_mock/health", timeout=5) as response:
            assert json.load(response) == {"ok": True}
        client = openai.OpenAI(base_url=url + "/v1", api_key="test", max_retries=0)
        assert client.chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES).usage.completion_tokens == 5
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_server_refuses_non_loopback_hosts():
    script = Path(__file__).resolve().parent.parent / "mock_provider" / "server.py"
    result = subprocess.run(
        [sys.executable, str(script), "--host", "0.0.0.0"], check=False, capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2 and "loopback" in result.stderr


def test_collector_refuses_named_events_as_invalid_and_stores_none_of_that_batch(mock):
    mock.set_collector(reject={"bad": "tags: too many"})
    status, _, payload = post_events(mock, [{"event_id": "ok"}, {"event_id": "bad"}])
    assert status == 400
    assert json.loads(payload) == {"rejected": [{"event_id": "bad", "reason": "tags: too many"}]}
    assert mock.events() == []
    assert post_events(mock, [{"event_id": "ok"}])[0] == 200
    assert [e["event_id"] for e in mock.events()] == ["ok"]
    assert mock.collector_state()["counters"]["rejected_events"] == 1


def test_collector_counts_posts_in_flight_at_once(mock):
    mock.set_collector(hang=True)
    threads = [threading.Thread(target=post_events, args=(mock, [{"event_id": f"p{i}"}])) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while mock.collector_state()["counters"]["in_flight"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mock.collector_state()["counters"]["in_flight"] == 3
    mock.set_collector()
    for t in threads:
        t.join(30)
    counters = mock.collector_state()["counters"]
    assert counters["in_flight"] == 0 and counters["peak_in_flight"] == 3
