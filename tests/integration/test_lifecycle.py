"""Lifecycle and connection limits over real sockets: graceful drain on SIGTERM, a second signal,
the drain timeout, --strict, --max-connections, header/body/idle timeouts, header size."""

import http.client
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.server import port_flags, start_server, tandem_binary, wait_for

SLOW = """\
backend: sim
max_batch_size: 0
inputs: [{{name: x, datatype: FP32, shape: [4]}}]
outputs: [{{name: y, datatype: FP32, shape: [4]}}]
instances: [{{devices: sim, count: 1}}]
parameters: {{latency_us: {latency_us}, scale: 2, offset: 1}}
"""


def slow_repository(root, latency_us):
    (root / "slow").mkdir(parents=True)
    (root / "slow" / "model.yaml").write_text(SLOW.format(latency_us=latency_us))
    return root


def infer(port, i, timeout=30):
    """One request on its own connection: (status, output data) or the exception it raised."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v2/models/slow/infer",
                     body=('{"inputs":[{"name":"x","shape":[4],"datatype":"FP32",'
                           '"data":[%d,1,2,3]}]}' % i),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        import json
        return r.status, json.loads(r.read())
    except OSError as e:
        return e
    finally:
        conn.close()


def in_flight(server):
    text = server.get("/metrics").body.decode()
    line = next(l for l in text.splitlines()
                if l.startswith('tandem_requests_in_flight{model="slow"'))
    return int(float(line.split()[-1]))


def test_sigterm_finishes_requests_in_flight_then_exits_0(tmp_path):
    # Two sim GPUs, one instance each: 6 requests of 300 ms take ~0.9 s in all.
    s = start_server(slow_repository(tmp_path, 300_000), "--sim-gpus", "2")
    keep_alive = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    keep_alive.request("GET", "/ping")
    assert keep_alive.getresponse().read()
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(infer, s.port, i) for i in range(6)]
        assert wait_for(lambda: in_flight(s) == 6)
        s.process.send_signal(signal.SIGTERM)
        # Once the drain starts (the signal takes a moment to arrive), /ping is 503 on a
        # connection that was already open, and that connection closes; if the drain begins
        # between two pings, the server closes the idle connection instead (the client's
        # reconnect is then refused).
        deadline = time.monotonic() + 10
        closed_while_idle = False
        while True:
            try:
                keep_alive.request("GET", "/ping")
                ping = keep_alive.getresponse()
            except (ConnectionRefusedError, ConnectionResetError,
                    http.client.RemoteDisconnected):
                closed_while_idle = True
                break
            body = ping.read()
            if ping.status != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not closed_while_idle:
            assert ping.status == 503 and b"shutting down" in body
            assert ping.getheader("Connection") == "close"
        # No new connections.
        assert wait_for(lambda: not _connects(s.port), timeout=5)
        results = [f.result() for f in futures]
    for i, result in enumerate(results):
        assert result == (200, result[1]) and result[1]["outputs"][0]["data"] == [
            2 * i + 1, 3, 5, 7], result
    assert s.process.wait(timeout=30) == 0
    assert any("drained" in line for line in s.log), s.log


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a_second_signal_exits_at_once(tmp_path):
    s = start_server(slow_repository(tmp_path, 5_000_000), "--sim-gpus", "1")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(infer, s.port, 1)
        assert wait_for(lambda: in_flight(s) == 1)
        s.process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: any("draining" in line for line in s.log))
        s.process.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert s.process.wait(timeout=10) == 128 + signal.SIGINT
        assert time.monotonic() - started < 2
        assert isinstance(pending.result(), OSError)  # the request was cut off, not answered


def test_the_drain_gives_up_after_its_timeout(tmp_path):
    s = start_server(slow_repository(tmp_path, 5_000_000), "--sim-gpus", "1",
                     "--drain-timeout", "1")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(infer, s.port, 1)
        assert wait_for(lambda: in_flight(s) == 1)
        started = time.monotonic()
        s.process.send_signal(signal.SIGTERM)
        assert s.process.wait(timeout=10) == 1
        assert time.monotonic() - started < 4
    assert any("drain timed out" in line for line in s.log), s.log


def test_strict_refuses_a_repository_with_problems(repository, tmp_path):
    (tmp_path / "good").symlink_to(repository / "versioned")
    (tmp_path / "typo").mkdir()
    (tmp_path / "typo" / "model.yaml").write_text("backend: torchscript\ninputs: []\n")
    cmd = [tandem_binary(), "serve", *port_flags(), "--model-repository", str(tmp_path)]
    lenient = start_server(tmp_path, wait_ready=False)
    assert lenient.stop() == 0  # without --strict it serves what it can
    strict = subprocess.run(cmd + ["--strict"], capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1
    assert "--strict" in strict.stderr and "typo" in strict.stderr


def test_strict_stops_when_a_model_fails_to_load(repository, tmp_path):
    (tmp_path / "good").symlink_to(repository / "versioned")
    (tmp_path / "corrupt" / "1").mkdir(parents=True)
    (tmp_path / "corrupt" / "model.yaml").write_text(
        (repository / "versioned" / "model.yaml").read_text())
    (tmp_path / "corrupt" / "1" / "model.pt").write_bytes(b"not a TorchScript archive")
    cmd = [tandem_binary(), "serve", *port_flags(), "--model-repository", str(tmp_path),
           "--strict"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and "--strict: not every model loaded" in result.stderr


@pytest.fixture
def limited(tmp_path):
    s = start_server(slow_repository(tmp_path, 1000), "--sim-gpus", "1", "--max-connections",
                     "2", "--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "2",
                     "--max-header-bytes", "4096")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def raw_exchange(port, data, wait=5.0):
    """Sends `data` on a fresh socket and returns everything the server sends until it closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        sock.close()


def test_connections_over_the_limit_get_503(limited):
    first = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=10)
    second = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=10)
    for conn in (first, second):
        conn.request("GET", "/v2/health/live")
        assert conn.getresponse().read()
    refused = raw_exchange(limited.port, b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 503") and b"too many connections" in refused
    first.close()
    assert wait_for(lambda: raw_exchange(
        limited.port, b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ).startswith(b"HTTP/1.1 200"))
    second.close()


def test_slow_headers_and_bodies_get_408_and_the_connection_closes(limited):
    started = time.monotonic()
    answer = raw_exchange(limited.port, b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n")
    assert answer.startswith(b"HTTP/1.1 408") and b"headers did not arrive" in answer
    assert time.monotonic() - started < 4
    answer = raw_exchange(limited.port, b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: t\r\n"
                                        b"Content-Length: 100\r\n\r\n{\"inputs\":")
    assert answer.startswith(b"HTTP/1.1 408") and b"body did not arrive" in answer
    # The server still serves.
    assert limited.get("/v2/health/live").status == 200


def test_an_idle_connection_is_closed(limited):
    sock = socket.create_connection(("127.0.0.1", limited.port), timeout=10)
    started = time.monotonic()
    assert sock.recv(1) == b""  # closed by the server, no response
    assert 1.5 < time.monotonic() - started < 6
    sock.close()


def test_oversized_headers_get_431(limited):
    answer = raw_exchange(limited.port, b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-Big: " +
                          b"a" * 8192 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431") and b"--max-header-bytes" in answer
