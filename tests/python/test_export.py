"""Events to a collector: on_error, custom CA bundles, masked credentials, and
what a misconfigured collector does to events (kept, not lost)."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import logging
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import costline
from costline import _runtime


def track_one(**kw):
    return costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5, **kw)


def eventually(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def flush_until_settled(timeout=30.0):
    deadline = time.monotonic() + timeout
    while not costline.flush(2.0):
        assert time.monotonic() < deadline, "the outbox never settled"


class Heard:
    """An on_error handler that remembers what it was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, exc, event):
        self.calls.append((exc, event))


@pytest.fixture
def no_on_error():
    yield
    _runtime._on_error = None
    costline._native.set_error_hook(None)
    costline.configure(base_url="", ca_bundle="")


def test_on_error_hears_what_to_fix_when_the_collector_refuses_the_key(mock, ledger, no_on_error):
    mock.set_collector(fail=-1, status=401)
    heard = Heard()
    costline.configure(base_url=mock.url, api_key="collector-key-SECRET", on_error=heard)
    tracked = track_one()
    assert eventually(lambda: heard.calls), "on_error was never called"
    exc, event = heard.calls[0]
    assert isinstance(exc, costline.ExportError) and isinstance(exc, costline.CostlineError)
    assert exc.status == 401
    assert "COSTLINE_API_KEY" in str(exc) and "collector-key-SECRET" not in str(exc)
    assert event is None
    # Kept, not rejected: still owed to the collector.
    assert not costline.flush(0.5)
    assert costline._native.stats()["pending_export"] == 1
    mock.set_collector()
    costline.configure(base_url=mock.url)  # the next pipeline tries again at once
    flush_until_settled()
    assert [e["event_id"] for e in mock.events()] == [tracked.event_id]


def test_on_error_receives_each_event_the_collector_refuses(mock, ledger, no_on_error):
    mock.set_collector(fail=-1, status=503)
    heard = Heard()
    costline.configure(base_url=mock.url, api_key="k", backoff_s=[0.2], on_error=heard)
    ids = [track_one().event_id for _ in range(3)]
    assert eventually(lambda: mock.collector_state()["counters"]["failed_posts"] >= 1)
    mock.set_collector(reject={ids[1]: "tags.customer: too long"})
    flush_until_settled()
    assert {e["event_id"] for e in mock.events()} == {ids[0], ids[2]}
    refused = [(exc, event) for exc, event in heard.calls if event is not None]
    assert len(refused) == 1
    exc, event = refused[0]
    assert isinstance(exc, costline.ExportError) and exc.status == 400
    assert "tags.customer: too long" in str(exc)
    assert event["event_id"] == ids[1] and event["model"] == "gpt-4o" and isinstance(event["tags"], dict)


def test_on_error_hears_instrumentation_errors_and_may_raise(ledger, no_on_error, caplog):
    heard = Heard()
    costline.configure(on_error=heard)
    assert _runtime.guarded("parse usage", lambda: 1 / 0) is None
    [(exc, event)] = heard.calls
    assert isinstance(exc, costline.CostlineError) and isinstance(exc.__cause__, ZeroDivisionError)
    assert event is None

    def broken(exc, event):
        raise RuntimeError("handler bug")

    costline.configure(on_error=broken)
    with caplog.at_level(logging.WARNING, logger="costline"):
        assert _runtime.guarded("parse usage", lambda: 1 / 0) is None
    assert "on_error raised RuntimeError" in caplog.text
    track_one()  # metering goes on


def test_events_recorded_with_an_invalid_base_url_are_sent_once_it_is_fixed(mock, tmp_path):
    code = f"""
        import costline
        ids = [costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1).event_id
               for _ in range(3)]
        assert costline.flush(10)
        costline.configure(base_url={mock.url!r})
        assert costline.flush(30), "the events queued under the bad URL were not sent"
        print(",".join(ids))
    """
    env = {
        **os.environ,
        "COSTLINE_LEDGER": str(tmp_path / "ledger.db"),
        "COSTLINE_BASE_URL": "collector.internal:8080",
        "COSTLINE_API_KEY": "k",
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    ids = set(proc.stdout.strip().split(","))
    assert ids <= {e["event_id"] for e in mock.events()}


def test_on_error_must_be_callable(ledger):
    with pytest.raises(costline.ConfigError, match="on_error"):
        costline.configure(on_error="print")


def test_settings_mask_credentials_in_the_base_url(ledger, no_on_error):
    costline.configure(base_url="http://alice:pw-SECRET@127.0.0.1:9/c?token=tok-SECRET&region=eu", api_key="k")
    shown = costline.settings()
    assert "SECRET" not in repr(shown)
    assert shown["base_url"] == "http://***@127.0.0.1:9/c?token=***&region=eu"
    assert shown["api_key"] == "***"


def test_a_key_over_plain_http_to_another_host_is_warned_about(tmp_path, no_on_error, caplog):
    # A fresh ledger with an empty outbox: nothing is sent, only the warning is logged.
    with caplog.at_level(logging.WARNING, logger="costline"):
        costline.configure(ledger=str(tmp_path / "l.db"), base_url="http://collector.invalid", api_key="k-SECRET")
        assert eventually(lambda: "travels unencrypted" in caplog.text)
        costline.configure(base_url="")
    assert "k-SECRET" not in caplog.text


# --- a collector behind a private CA --------------------------------------------------------------------------


@pytest.fixture
def private_ca(tmp_path):
    """A CA and a certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2))

    def certificate(subject, issuer, public_key, signing_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(
        "test CA", "test CA", ca_key.public_key(), ca_key, [x509.BasicConstraints(ca=True, path_length=None)]
    )
    cert = certificate(
        "127.0.0.1",
        "test CA",
        key.public_key(),
        ca_key,
        [
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            x509.BasicConstraints(ca=False, path_length=None),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
        ],
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture
def https_collector(private_ca):
    """A collector on https://127.0.0.1 with a certificate from the private CA; yields (url, received ids)."""
    _, cert, key = private_ca
    received: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            received.extend(e["event_id"] for e in body["events"])
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_collector_signed_by_a_private_ca_is_reached_with_ca_bundle(https_collector, private_ca, ledger, no_on_error):
    url, received = https_collector
    ca, _, _ = private_ca
    costline.configure(base_url=url, api_key="k", backoff_s=[0.05], timeout_s=5)
    tracked = track_one()
    assert not costline.flush(1.0), "without the CA the certificate is not trusted"
    assert received == []
    costline.configure(ca_bundle=str(ca))
    assert costline.settings()["ca_bundle"] == str(ca)
    flush_until_settled()
    assert tracked.event_id in received


def test_a_bad_ca_bundle_is_a_config_error_at_configure(tmp_path, ledger):
    bad = tmp_path / "bad-ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(costline.ConfigError, match="bad-ca.pem"):
        costline.configure(ca_bundle=str(bad))
    with pytest.raises(costline.ConfigError, match="missing.pem"):
        costline.configure(ca_bundle=str(tmp_path / "missing.pem"))
    assert costline.settings()["ca_bundle"] is None


def test_on_error_hears_a_ledger_that_cannot_be_written(tmp_path, no_on_error):
    heard = Heard()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    costline.configure(ledger=str(blocker / "ledger.db"), base_url="", on_error=heard)
    track_one()
    assert costline.flush(0.5) is False
    deadline = time.monotonic() + 30
    while not heard.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    [(exc, event)] = heard.calls  # once per outage, not per batch
    assert isinstance(exc, costline.LedgerError) and str(blocker) in str(exc)
    assert event is None
    costline.configure(ledger=str(tmp_path / "good.db"))
