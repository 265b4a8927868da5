"""Run the mock provider as a process (for any test suite, whatever its language):

    python tests/mock_provider/server.py [--port 0] [--host 127.0.0.1] [--verbose]

prints one line `MOCK_URL=http://127.0.0.1:PORT` on stdout once it accepts
connections, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the package importable by its name.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mock_provider.handler import MockHTTPServer
else:
    from .handler import MockHTTPServer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="costline's local mock of the OpenAI and Anthropic APIs")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = parser.parse_args(argv)
    try:
        server = MockHTTPServer(args.host, args.port, verbose=args.verbose)
    except (ValueError, OSError) as exc:
        print(f"mock provider: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # serve_forever runs on a thread so that the main thread can wait for a signal
    # and then call shutdown(), which must not run on the serving thread.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(f"MOCK_URL={server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.state.collector.release()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
