"""costline's overhead, measured side by side with the raw SDK in one run.

Both clients talk to the same in-process fake transport (no sockets), so the
difference is pure per-call CPU added by costline. Rounds alternate raw and
drop-in; medians of rounds are reported. Run with `make bench` (release build).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm offline, for the cost() comparison
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


import openai  # noqa: E402
from openai import _base_client  # noqa: E402

import costline  # noqa: E402
from costline.openai import OpenAI  # noqa: E402

httpx = getattr(_base_client, "httpx2", None) or _base_client.httpx

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 500,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }
).encode()


def sse(include_usage: bool) -> bytes:
    chunks = []
    for word in ["Hello", " from", " the", " fake", " transport"]:
        c = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
        }
        if include_usage:
            c["usage"] = None
        chunks.append(c)
    if include_usage:
        chunks.append(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-4o-2024-08-06",
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


SSE_USAGE, SSE_PLAIN = sse(True), sse(False)


class _EventByEvent(httpx.SyncByteStream):
    """A streamed body that arrives one server-sent event at a time, as from a
    real server (a `content=` body is held in memory, so httpx never reads the
    response's byte stream, where costline's usage-chunk filter sits)."""

    def __init__(self, sse_body: bytes) -> None:
        self.parts = [event + b"\n\n" for event in sse_body.split(b"\n\n") if event]

    def __iter__(self):
        yield from self.parts


def handler(request):
    body = json.loads(request.content)
    if body.get("stream"):
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=_EventByEvent(SSE_USAGE if include else SSE_PLAIN),
        )
    return httpx.Response(200, headers={"content-type": "application/json"}, content=COMPLETION)


def make(cls):
    return cls(
        api_key="k",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


MESSAGES = [{"role": "user", "content": "Say hello."}]


def side_by_side(label: str, raw_fn, ours_fn, n: int = 3000, rounds: int = 3, cpu: bool = False) -> None:
    """Raw and drop-in calls alternate one by one, so both see the same machine
    state; each round reports the median per-call time; the figure printed is
    the median of the rounds' medians (as the peers' figures in ANCHORS.md).
    `cpu`: also the caller's thread CPU time per call, which a busy machine
    disturbs far less than the wall clock (time spent waiting is not in it)."""
    print_side_by_side(label, *measure_side_by_side(raw_fn, ours_fn, n, rounds), cpu=cpu)


def print_side_by_side(label: str, r: float, o: float, r_cpu: float, o_cpu: float, cpu: bool = True) -> None:
    print(f"{label:<46} raw {r:8.1f} µs   costline {o:8.1f} µs   added {o - r:+7.1f} µs   ratio {o / r:5.3f}")
    if cpu:
        added = o_cpu - r_cpu
        print(f"{'  the same, thread CPU':<46} raw {r_cpu:8.1f} µs   costline {o_cpu:8.1f} µs   added {added:+7.1f} µs")


def measure_side_by_side(raw_fn, ours_fn, n: int, rounds: int) -> tuple:
    """(raw, drop-in) wall times, then (raw, drop-in) thread CPU times, per call: see `side_by_side`.
    Each call is timed the same way (clock, thread clock, the call, thread clock, clock), and
    the two take turns going first: a fixed order showed two identical calls 2 to 3.5 µs
    apart on the wall clock (the second window held one more thread-clock system call, and
    the second call of a pair runs in a different state of the caches)."""
    for fn in (raw_fn, ours_fn):
        for _ in range(200):
            fn()  # warm up
    raw_rounds, ours_rounds, raw_cpu, ours_cpu = [], [], [], []
    clock, thread = time.perf_counter, time.thread_time

    def timed(fn, walls, cpus):
        start = clock()
        start_c = thread()
        fn()
        end_c = thread()
        end = clock()
        walls.append(end - start)
        cpus.append(end_c - start_c)

    for _ in range(rounds):
        gc.collect()
        raw_t, ours_t, raw_c, ours_c = [], [], [], []
        for i in range(n):
            if i % 2:
                timed(raw_fn, raw_t, raw_c)
                timed(ours_fn, ours_t, ours_c)
            else:
                timed(ours_fn, ours_t, ours_c)
                timed(raw_fn, raw_t, raw_c)
        raw_rounds.append(statistics.median(raw_t) * 1e6)
        ours_rounds.append(statistics.median(ours_t) * 1e6)
        raw_cpu.append(statistics.median(raw_c) * 1e6)
        ours_cpu.append(statistics.median(ours_c) * 1e6)
        costline.flush(10)
    median = statistics.median
    return median(raw_rounds), median(ours_rounds), median(raw_cpu), median(ours_cpu)


def bench_overhead() -> None:
    raw, ours = make(openai.OpenAI), make(OpenAI)
    side_by_side(
        "chat.completions.create, non-stream",
        lambda: raw.chat.completions.create(model="gpt-4o", messages=MESSAGES),
        lambda: ours.chat.completions.create(model="gpt-4o", messages=MESSAGES),
    )
    side_by_side(
        "chat stream, 5 chunks + usage (include_usage)",
        lambda: list(
            raw.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        ),
        lambda: list(
            ours.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        ),
    )
    side_by_side(
        "chat stream, caller did not ask for usage",
        lambda: list(raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)),
        lambda: list(ours.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)),
    )
    with costline.run("bench", tags={"k": "v"}):
        side_by_side(
            "non-stream inside a run (attribution + total)",
            lambda: raw.chat.completions.create(model="gpt-4o", messages=MESSAGES),
            lambda: ours.chat.completions.create(model="gpt-4o", messages=MESSAGES),
        )


def failing_handler(request):
    return httpx.Response(503, headers={"content-type": "application/json"}, content=b'{"error": {"message": "down"}}')


# Fewer rounds for the targets whose own SDK call is slow (a stream of 50 chunks through
# Gemini's or Mistral's pydantic models takes milliseconds).
FALLBACK_CALLS = {"anthropic": 1000, "google": 200, "mistral": 100, "bedrock": 300}


def bench_fallback() -> None:
    """A fallback's own time: an OpenAI caller whose provider fails (503) served by a target
    (Anthropic, Gemini, Mistral, Bedrock; benches/fallback_targets.py), beside the two raw
    calls it is made of (the failing OpenAI call and the target's own call). added =
    fallback - both raw calls: translating the request, the response (or each chunk),
    building the caller's types and metering both attempts."""
    import fallback_targets as ft

    targets = ft.clients(httpx)
    only = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--targets=")]
    names = only[0].split(",") if only else list(targets)
    down = {"api_key": "k", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}
    raw_down = openai.OpenAI(**down, http_client=httpx.Client(transport=httpx.MockTransport(failing_handler)))

    def failed() -> None:
        try:
            raw_down.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        except openai.InternalServerError:
            pass

    def three_ways(label: str, served, fallback, n: int, rounds: int = 3):
        fns = (failed, served, fallback)
        for fn in fns:
            for _ in range(min(100, n)):
                fn()
        results = []
        for _ in range(rounds):
            gc.collect()
            # Wall time and this thread's CPU time (the latter is not inflated when
            # other processes share the machine).
            times = ([], [], [], [], [], [])
            for _ in range(n):
                for i, fn in enumerate(fns):
                    cpu, start = time.thread_time(), time.perf_counter()
                    fn()
                    times[i].append(time.perf_counter() - start)
                    times[3 + i].append(time.thread_time() - cpu)
            results.append([statistics.median(t) * 1e6 for t in times])
            costline.flush(10)
        f, r, o, fc, rc, oc = (statistics.median(col) for col in zip(*results))
        print(
            f"{label:<46} failing {f:7.1f} µs + served {r:7.1f} µs   fallback {o:8.1f} µs   added {o - f - r:+7.1f} µs"
            f"   (thread CPU: {fc:.1f} + {rc:.1f}, {oc:.1f}, added {oc - fc - rc:+.1f} µs)"
        )
        return o - f - r, oc - fc - rc

    for name in names:
        client, model = targets[name], ft.MODELS[name]
        chain = {"fallback": [{"provider": name, "model": model, "client": client}]}
        ours = OpenAI(**down, http_client=httpx.Client(transport=httpx.MockTransport(failing_handler)), costline=chain)
        plain, streamed = ft.served(name, client)
        n = FALLBACK_CALLS[name]
        per_call = three_ways(
            f"fallback openai->{name}, non-stream",
            plain,
            lambda ours=ours: ours.chat.completions.create(model="gpt-4o", messages=MESSAGES),
            n,
        )
        per_stream = three_ways(
            f"fallback openai->{name}, {ft.CHUNKS} chunks",
            streamed,
            lambda ours=ours: list(ours.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)),
            n,
        )
        wall, cpu = ((s - c) / ft.CHUNKS for s, c in zip(per_stream, per_call))
        print(f"{'  per chunk: (stream - non-stream) / chunks':<46} {wall:+7.2f} µs   (thread CPU {cpu:+.2f} µs)")


def bench_routed() -> None:
    """The routed client (costline.Costline) beside the raw SDK: model="auto" adds the
    core's decision (the prompt counted, five candidates priced and classified) and the
    metering; a named model adds the metering and the provider lookup."""
    raw = make(openai.OpenAI)
    pool = [
        {"model": "gpt-4.1-nano", "provider": "openai", "quality": 45},
        {"model": "gpt-4o-mini", "provider": "openai", "quality": 55},
        {"model": "gpt-4o", "provider": "openai", "quality": 72},
        {"model": "gpt-4.1", "provider": "openai", "quality": 75},
        {"model": "o3", "provider": "openai", "quality": 80},
    ]
    routed = costline.Costline(providers={"openai": make(openai.OpenAI)}, models=pool)
    side_by_side(
        "Costline model='auto' (5 candidates), non-stream",
        lambda: raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=100),
        lambda: routed.chat.completions.create(model="auto", messages=MESSAGES, max_tokens=100),
        n=1000,
    )
    side_by_side(
        "Costline named model, non-stream",
        lambda: raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=100),
        lambda: routed.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=100),
        n=1000,
    )


def bench_budgets() -> None:
    """Added latency of a guarded call (a budget reserves its worst case before
    sending and settles after) over the same drop-in call unguarded, per store.
    Guarded and unguarded calls alternate on one client: the budget stays
    configured and only the hook's flag differs, so the difference is the
    reserve + settle round alone."""
    import shutil
    import socket

    from costline import _budgets

    ours = make(OpenAI)
    stores = [("in-memory", {"budget_store": "memory"}), ("ledger", {"budget_store": "ledger"})]
    server = None
    exe = shutil.which("redis-server")
    if exe:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        stores.append(("redis (loopback)", {"budget_store": "redis", "redis_url": f"redis://127.0.0.1:{port}"}))
    try:
        for label, kwargs in stores:
            costline.configure(budgets=[costline.Budget("1000000", "total")], **kwargs)
            unguarded, guarded = _guarded_pair(ours)
            if label == "in-memory":
                _budget_memory_in_processes()
            else:
                side_by_side(f"budget-guarded call, {label} store", unguarded, guarded, n=1000, cpu=True)
            if label == "in-memory":
                print(f"{'  the reservation alone, inside each call':<46} {_reserve_inside_calls_us(guarded):8.1f} µs")
                # The call above resends one prompt, whose count the core remembers;
                # here every call's prompt is new, so it is counted before sending.
                fresh = iter(range(10**9))

                def new_prompt(active: bool, fresh=fresh) -> None:
                    _budgets.active = active
                    content = f"Say hello to visitor {next(fresh)}."
                    ours.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": content}], max_tokens=100
                    )

                side_by_side(
                    "  the same, a new prompt on every call",
                    lambda: new_prompt(False),
                    lambda: new_prompt(True),
                    n=1000,
                    cpu=True,
                )
            print(f"{'  reserve + settle alone, ' + label:<46} {_reserve_settle_us():8.1f} µs")
            if server is not None and label.startswith("redis"):
                # The target is one round trip + 100 µs: a round trip measured in
                # the same conditions (right after a call, not in a tight loop,
                # where the socket and the scheduler are hot).
                side_by_side(
                    "  one PING round trip after each call",
                    unguarded,
                    lambda unguarded=unguarded: (unguarded(), socket_ping(port)),
                    n=1000,
                )
        costline.configure(budgets=[costline.Budget("1000000", "total", enforce_stream=True)], budget_store="memory")

        def stream(active: bool) -> None:
            _budgets.active = active
            list(ours.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

        side_by_side(
            "stream metered as it goes (enforce_stream), memory",
            lambda: stream(False),
            lambda: stream(True),
            n=1000,
            cpu=True,
        )
        if server is not None:
            t = []
            for _ in range(2000):
                start = time.perf_counter()
                socket_ping(port)
                t.append(time.perf_counter() - start)
            print(f"{'redis PING round trip (loopback, for scale)':<46} {statistics.median(t) * 1e6:8.1f} µs")
        else:
            print("(redis-server not installed: the redis store was not measured)")
    finally:
        costline.configure(budgets=[], budget_store="")
        _budgets.active = False
        if server is not None:
            server.terminate()
            server.wait()


def _guarded_pair(client):
    """The same call unguarded and guarded: the budget stays configured, only the hook's flag differs."""
    from costline import _budgets

    def unguarded():
        _budgets.active = False
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=100)

    def guarded():
        _budgets.active = True
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=100)

    return unguarded, guarded


BUDGET_PROCESSES = 5


def _budget_memory_in_processes() -> None:
    """The in-memory comparison in several fresh processes, the median of theirs printed.
    Within one process the figure is steady, but between processes it moves by several
    microseconds (where the code and data of both calls land in memory), which is as much
    as the figure itself."""
    runs = []
    for _ in range(BUDGET_PROCESSES):
        out = subprocess.run(
            [sys.executable, __file__, "budget-memory-process"], capture_output=True, text=True, check=True
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    r, o, r_cpu, o_cpu = (statistics.median(run[i] for run in runs) for i in range(4))
    # The added times are the medians of each process's own difference.
    added = statistics.median(run[1] - run[0] for run in runs)
    added_cpu = statistics.median(run[3] - run[2] for run in runs)
    print_side_by_side(
        f"budget-guarded call, in-memory store, {BUDGET_PROCESSES} processes", r, r + added, r_cpu, r_cpu + added_cpu
    )
    wall = " ".join(f"{o - r:+.1f}" for r, o, *_ in runs)
    cpu = " ".join(f"{o - r:+.1f}" for _, _, r, o, *_ in runs)
    print(f"{'  added in each process (wall; thread CPU)':<46} {wall}; {cpu} µs")
    # The method's zero: the unguarded call against itself, in the same processes.
    zero = statistics.median(run[5] - run[4] for run in runs)
    zero_cpu = statistics.median(run[7] - run[6] for run in runs)
    print(f"{'  the unguarded call against itself':<46} added {zero:+.1f} µs wall, {zero_cpu:+.1f} µs thread CPU")


def bench_budget_memory_process() -> None:
    """One process's in-memory comparison, as JSON, for `_budget_memory_in_processes`."""
    costline.configure(budgets=[costline.Budget("1000000", "total")], budget_store="memory")
    try:
        unguarded, guarded = _guarded_pair(make(OpenAI))
        pair = measure_side_by_side(unguarded, guarded, n=1000, rounds=3)
        zero = measure_side_by_side(unguarded, unguarded, n=1000, rounds=3)
        print(json.dumps([*pair, *zero]))
    finally:
        costline.configure(budgets=[], budget_store="")


def _reserve_inside_calls_us(call, n: int = 1000, rounds: int = 3) -> float:
    """The reservation by itself, timed where it runs: inside each real call, right after
    the SDK's own work has taken the CPU caches (a tight loop keeps them warm, which is
    what `_reserve_settle_us` shows). Far steadier than the difference of two whole calls;
    the settlement is not in it (the writer thread makes it)."""
    from costline import _budgets

    reserve, clock, times, medians = _budgets.reserve, time.perf_counter_ns, [], []

    def timed(call_, body):
        start = clock()
        try:
            return reserve(call_, body)
        finally:
            times.append(clock() - start)

    _budgets.reserve = timed
    try:
        for _ in range(rounds):
            times.clear()
            for _ in range(n):
                call()
            medians.append(statistics.median(times) / 1000)
    finally:
        _budgets.reserve = reserve
    return statistics.median(medians)


def _reserve_settle_us(n: int = 3000) -> float:
    """The budget work of one call by itself (median): reserve the worst case, settle it.
    Far steadier than a difference of two noisy SDK calls on a shared machine. With the
    ledger and Redis the settlement is handed to a background thread, as in a real call:
    the figure is what the caller's thread spends."""
    from costline import _native

    body = {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 100}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        held = _native.budget_reserve("openai", "chat", "gpt-4o", body, False, None, None, [], {}, {}, [])
        held.settle("0.001")
        times.append(time.perf_counter() - start)
    _native.budget_wait_settled(30)
    return statistics.median(times) * 1e6


_ping_socket = None


def socket_ping(port: int) -> None:
    """One PING/PONG on a kept-open connection (a loopback round trip)."""
    import socket

    global _ping_socket
    if _ping_socket is None:
        _ping_socket = socket.create_connection(("127.0.0.1", port))
        _ping_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _ping_socket.sendall(b"PING\r\n")
    _ping_socket.recv(64)


def bench_cost() -> None:
    tuples = [
        ("gpt-4o", 1000, 500, 200),
        ("claude-sonnet-4-5", 3000, 200, 0),
        ("gpt-4o-mini", 12, 40, 0),
        ("o3", 5000, 2000, 1000),
    ]
    n = 50_000
    start = time.perf_counter()
    for _ in range(n // len(tuples)):
        for model, i, o, c in tuples:
            costline.cost(model, input_tokens=i, output_tokens=o, cached_input_tokens=c)
    ours = (time.perf_counter() - start) / n * 1e6
    line = f"{'costline.cost()':<44} {ours:8.2f} µs per call"
    try:
        import litellm  # type: ignore

        m = 2_000
        start = time.perf_counter()
        for _ in range(m // len(tuples)):
            for model, i, o, c in tuples:
                litellm.cost_per_token(model=model, prompt_tokens=i, completion_tokens=o, cache_read_input_tokens=c)
        theirs = (time.perf_counter() - start) / m * 1e6
        line += f"   litellm.cost_per_token {theirs:8.2f} µs   ratio {theirs / ours:6.1f}x"
    except ImportError:
        line += "   (litellm not installed: `pip install litellm` to compare)"
    print(line)


def bench_tokens() -> None:
    first = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time, costline; t=time.perf_counter(); costline.count_tokens('hi', 'gpt-4o');"
            " print((time.perf_counter()-t)*1000)",
        ],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    print(f"{'first count_tokens (o200k encoder build)':<44} {float(first.stdout.strip() or 'nan'):8.1f} ms")
    words = (
        "the quick brown fox jumps over the lazy dog while a costline meter counts every token "
        "spent by agents in production at scale, exactly and offline"
    ).split()
    text = " ".join(words[(i * 7) % len(words)] for i in range(200_000))
    size = len(text.encode())
    best = min(_timed(lambda: costline.count_tokens(text, "gpt-4o")) for _ in range(3))
    print(f"{'count_tokens English (o200k)':<44} {size / best / 1e6:8.1f} MB/s")
    for label, s in (("'a' x 100 KB", "a" * 100_000), ("' ' x 100 KB", " " * 100_000)):
        t = min(_timed(lambda s=s: costline.count_tokens(s, "gpt-4o")) for _ in range(3))
        print(f"{'count_tokens ' + label:<44} {t * 1000:8.1f} ms")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_import() -> None:
    def best(code: str) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            runs.append(time.perf_counter() - start)
        return min(runs) * 1000

    base = best("import openai")
    ours = best("import openai; from costline.openai import OpenAI")
    print(f"{'import openai':<44} {base:8.1f} ms   + costline.openai {ours - base:+7.1f} ms")


def bench_rss() -> None:
    n = 1_000_000
    costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
    costline.flush(30)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for i in range(n):
        costline.track(provider="openai", model="gpt-4o", input_tokens=i % 5000, output_tokens=7)
        if i % 5_000 == 0:
            costline.flush(30)  # pace the producer to the writer: measure recorded events, not drops
    costline.flush(60)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dropped = costline._native.stats()["dropped"]
    print(
        f"{'1M track() events to the ledger':<44} {elapsed / n * 1e6:8.2f} µs/event   max RSS growth "
        f"{(after - before) / 1024:6.1f} MB   dropped {dropped}"
    )


SECTIONS = {
    "overhead": bench_overhead,
    "fallback": bench_fallback,
    "routed": bench_routed,
    "budgets": bench_budgets,
    "budget-memory-process": bench_budget_memory_process,
    "cost": bench_cost,
    "tokens": bench_tokens,
    "import": bench_import,
    "rss": bench_rss,
}

if __name__ == "__main__":
    # `bench_python.py [section ...]` (benches/results.py runs one section at a time);
    # no section: all of them, the RSS run left out with --quick.
    names = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not names:
        print(f"openai {openai.__version__}, costline {costline.__version__}, Python {sys.version.split()[0]}")
        hidden = {"budget-memory-process"} | ({"rss"} if "--quick" in sys.argv else set())
        names = [n for n in SECTIONS if n not in hidden]
    for name in names:
        SECTIONS[name]()
    remove_bench_ledger()
