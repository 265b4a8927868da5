"""Writes benches/RESULTS.md whole, from the benches themselves: `make bench` runs this.

Every section of the file is one bench run here, printed as it runs and written at the
end with a header (date, load average, commit, build profile). Nothing in RESULTS.md is
written by hand, so a run never loses a section; the analysis of the figures lives in
docs/performance.md. A section whose bench fails is written with its exit status and
makes this script (and `make bench`) fail.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benches" / "RESULTS.md"
PY = sys.executable
ROUTING_LINES = ("decide", "count")


def python_bench(*sections: str) -> list[str]:
    return [PY, "benches/bench_python.py", *sections]


def cargo_bench(name: str) -> list[str]:
    return ["cargo", "bench", "-q", "-p", "costline-core", "--bench", name]


# (title, one-line explanation, command, keep: which output lines to keep, or None for all)
SECTIONS = [
    (
        "Python: the OpenAI drop-in beside the raw SDK",
        "Added time per call of `costline.openai.OpenAI` over `openai.OpenAI`, both on one in-process fake"
        " transport (no sockets), alternating rounds, medians (wall time).",
        python_bench("overhead"),
        None,
    ),
    (
        "Python: budget-guarded calls (in-memory, ledger, Redis stores)",
        "A guarded call (reserve the worst case before sending, settle after) beside the same drop-in call"
        " unguarded, per store; `thread CPU` lines are the caller's CPU time, steadier under load.",
        python_bench("budgets"),
        None,
    ),
    (
        "Python: fallback, non-stream and per stream chunk",
        "An OpenAI caller whose provider fails (503) served by Anthropic, Gemini, Mistral and Bedrock in turn,"
        " beside the two raw calls it is made of; added = translation, the caller's SDK types and metering of"
        " both attempts (negative: less than the target SDK's own call).",
        python_bench("fallback"),
        None,
    ),
    (
        "Python: routed client (costline.Costline)",
        "`model='auto'` (the core's decision: prompt counted, candidates priced and classified) and a named"
        " model, beside the raw SDK call.",
        python_bench("routed"),
        None,
    ),
    (
        "Python: cost(), token counting, import time, memory",
        "`costline.cost()` per call, token counting speed, the import time costline adds, and RSS growth"
        " over 1M `track()` events written to the ledger.",
        python_bench("cost", "tokens", "import", "rss"),
        None,
    ),
    (
        "Python: Gemini, Mistral and Bedrock drop-ins beside their raw SDK clients",
        "Loopback HTTP to the mock provider (tests/mock_provider): both clients pay the same network and"
        " server time, so the difference is costline's.",
        [PY, "benches/bench_providers.py"],
        None,
    ),
    (
        "Node: drop-ins beside the plain SDK clients",
        "Main-thread CPU per call over one in-process fake fetch (benches/bench_node.mjs), medians of rounds.",
        ["node", "benches/bench_node.mjs"],
        None,
    ),
    (
        "Routing decision (core)",
        "core/benches/routing.rs: one decision over 50 candidates and a 2 KB prompt, the prompt count alone"
        " beside it; thread CPU time, wall time beside it (target <= 50 µs).",
        cargo_bench("routing"),
        lambda line: line.startswith(ROUTING_LINES) or "time:" in line,
    ),
    (
        "Fallback translation per call and per stream chunk (core), every pair",
        "core/benches/translate.rs: the shared vectors translated for each of the 20 pairs, raw (the same"
        " between two clients of the source's API) beside each; thread CPU time (targets <= 20 µs per call,"
        " <= 2 µs per chunk).",
        cargo_bench("translate"),
        None,
    ),
    (
        "Token counting (core)",
        "core/benches/tokens.rs: exact counts per encoding, as the budgets and the router use them.",
        cargo_bench("tokens"),
        None,
    ),
]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def run(command: list[str], keep) -> tuple[list[str], int, float]:
    """The command's output lines as it prints them (to the terminal too), its status and seconds."""
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if keep is None or keep(line):
            print(line, flush=True)
            lines.append(line)
    err = proc.stderr.read() if proc.stderr else ""
    status = proc.wait()
    if status != 0:
        # The cargo/compiler chatter on stderr is only worth keeping when the bench failed.
        lines += [f"(exit status {status})", *err.strip().splitlines()[-20:]]
    return lines, status, time.monotonic() - start


def versions() -> str:
    code = (
        "import sys, openai, costline;"
        " print(f'costline {costline.__version__}, openai {openai.__version__}, Python {sys.version.split()[0]}')"
    )
    done = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True)
    return f"{done.stdout.strip() or 'costline not importable'}, Node {node.stdout.strip() or 'missing'}"


def main() -> int:
    # --only WORD (repeatable): the sections whose title has WORD; --out PATH: write there
    # instead (a partial run must not replace RESULTS.md).
    args = sys.argv[1:]
    only = [args[i + 1] for i, a in enumerate(args) if a == "--only"]
    out = Path(args[args.index("--out") + 1]) if "--out" in args else OUT
    if only and out == OUT:
        sys.exit("--only needs --out: RESULTS.md is written whole")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    commit = git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if dirty else "")
    profile = os.environ.get("BENCH_PROFILE", "as installed (run through `make bench` for release builds)")
    body, failed = [], []
    for title, explanation, command, keep in SECTIONS:
        if only and not any(w.lower() in title.lower() for w in only):
            continue
        print(f"\n== {title}", flush=True)
        load = loadavg()
        lines, status, seconds = run(command, keep)
        if status != 0:
            failed.append(title)
        body += [
            f"## {title}",
            "",
            f"{explanation} Load average {load} at its start; {seconds:.0f} s.",
            "",
            "```",
            *lines,
            "```",
            "",
        ]
    head = [
        "# Benchmark results",
        "",
        "Written whole by `make bench` (benches/results.py) from the benches' own output: do not edit by hand.",
        "What the figures mean, the targets and the quiet-machine references: docs/performance.md.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC (the run took {_duration(started)})",
        f"- Load average (1, 5, 15 min): {load_start} at the start, {loadavg()} at the end;"
        f" {os.cpu_count()} cores. Wall-time lines swing with load; CPU-time lines hold better.",
        f"- Commit: {commit} (branch {git('rev-parse', '--abbrev-ref', 'HEAD')})",
        f"- Build: {profile}",
        f"- Machine: {platform.machine()}, {platform.system()} {platform.release()}",
        f"- Versions: {versions()}",
        "",
    ]
    if failed:
        head += [f"**Failed sections:** {', '.join(failed)} (their exit status is in the section).", ""]
    out.write_text("\n".join(head + body).rstrip("\n") + "\n", encoding="utf-8")
    print(f"\nwrote {out}", flush=True)
    return 1 if failed else 0


def _duration(started: datetime.datetime) -> str:
    minutes = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60
    return f"{minutes:.0f} min"


if __name__ == "__main__":
    sys.exit(main())
