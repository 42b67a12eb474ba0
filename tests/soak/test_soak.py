"""Soak: sustained overload for TANDEM_SOAK_SECONDS (default 60) mixing valid requests, whose
every answer is checked, invalid requests and clients that vanish mid-request. It must see no
crash and no wrong answer, and the server's memory must level off. Prints the RSS curve and
writes it, with the counts, to build/soak.json."""

import json
import os
import pathlib
import random
import socket
import struct
import threading
import time

import pytest

from support.server import ROOT, start_server

SECONDS = float(os.environ.get("TANDEM_SOAK_SECONDS", "60"))
CLIENTS = 48

# One sim GPU, 20 ms a batch of up to 8: ~400 req/s, far below what 48 clients ask, so the
# 16-deep queue overflows and the server must refuse (503) rather than grow.
MODEL = """\
backend: sim
max_batch_size: 8
inputs: [{name: x, datatype: FP32, shape: [4]}]
outputs: [{name: y, datatype: FP32, shape: [4]}]
instances: [{devices: sim, count: 1}]
dynamic_batching: {max_queue_delay_us: 1000, max_queue_size: 16}
parameters: {latency_us: 20000, per_item_us: 0, scale: 3, offset: 0.5}
"""
PIPELINE = """\
inputs: [{name: raw, datatype: FP32, shape: [1, 4]}]
outputs: [{name: best, datatype: INT64, shape: [1]}]
steps:
  - {name: scale, model: triple, inputs: {x: raw}, outputs: {y: scaled}}
  - {name: pick, op: argmax, inputs: {input: scaled}, outputs: {indices: best}, params: {dim: 1}}
"""


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    """One keep-alive connection speaking raw HTTP/1.1, so disconnects can be mid-request."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buffer = b""

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.buffer = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def exchange(self, method, path, body=b"", headers=()):
        if self.sock is None:
            self.connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: soak\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = header.decode().split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(self.buffer) < length:
            self._read()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, fields, payload

    def _read(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk


def json_infer(values, model="triple", name="x"):
    return json.dumps({"inputs": [{"name": name, "shape": [1, 4], "datatype": "FP32",
                                   "data": values}]}).encode()


def binary_infer(values):
    header = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return header, header + struct.pack("<4f", *values)


INVALID = [
    ("/v2/models/triple/infer", b"{not json"),
    ("/v2/models/triple/infer", json.dumps({"inputs": [{"name": "x", "shape": [1, 4],
                                                        "datatype": "INT8",
                                                        "data": [1, 2, 3, 4]}]}).encode()),
    ("/v2/models/triple/infer", json.dumps({"inputs": [{"name": "x",
                                                        "shape": [1 << 40, 1 << 40],
                                                        "datatype": "FP32", "data": []}]}).encode()),
    ("/v2/models/nobody/infer", json_infer([1, 2, 3, 4])),
    ("/v2/models/triple/infer", b"[" * 100000),
]


@pytest.mark.soak
def test_sustained_overload_with_bad_clients(tmp_path):
    (tmp_path / "triple").mkdir()
    (tmp_path / "triple" / "model.yaml").write_text(MODEL)
    (tmp_path / "pick").mkdir()
    (tmp_path / "pick" / "pipeline.yaml").write_text(PIPELINE)
    server = start_server(tmp_path, "--sim-gpus", "1")
    counts = {"ok": 0, "overloaded": 0, "refused_bad_input": 0, "disconnects": 0}
    problems = []
    lock = threading.Lock()
    stop_at = time.monotonic() + SECONDS

    def count(key):
        with lock:
            counts[key] += 1

    def problem(text):
        with lock:
            if len(problems) < 20:
                problems.append(text)

    def client_loop(seed):
        rng = random.Random(seed)
        client = Client(server.port)
        while time.monotonic() < stop_at:
            kind = rng.random()
            values = [float(rng.randint(-1000, 1000)) / 4 for _ in range(4)]
            expected = [v * 3 + 0.5 for v in values]
            try:
                if kind < 0.45:
                    status, fields, body = client.exchange(
                        "POST", "/v2/models/triple/infer", json_infer(values),
                        [("Content-Type", "application/json")])
                    if status == 200:
                        got = json.loads(body)["outputs"][0]["data"]
                        if got != expected:
                            problem(f"wrong answer: {values} -> {got}")
                        count("ok")
                    elif status == 503 and fields.get("retry-after"):
                        count("overloaded")
                    else:
                        problem(f"JSON infer: {status} {body[:200]!r}")
                elif kind < 0.6:
                    header, payload = binary_infer(values)
                    status, fields, body = client.exchange(
                        "POST", "/v2/models/triple/infer", payload,
                        [("Inference-Header-Content-Length", str(len(header)))])
                    if status == 200:
                        json_length = int(fields["inference-header-content-length"])
                        got = list(struct.unpack("<4f", body[json_length:]))
                        if got != expected:
                            problem(f"wrong binary answer: {values} -> {got}")
                        count("ok")
                    elif status == 503:
                        count("overloaded")
                    else:
                        problem(f"binary infer: {status} {body[:200]!r}")
                elif kind < 0.7:
                    status, _, body = client.exchange("POST", "/v2/models/pick/infer",
                                                      json_infer(values, name="raw"))
                    if status == 200:
                        best = json.loads(body)["outputs"][0]["data"]
                        if best != [max(range(4), key=lambda i: (values[i], -i))]:
                            problem(f"wrong pipeline answer: {values} -> {best}")
                        count("ok")
                    elif status == 503:
                        count("overloaded")
                    else:
                        problem(f"pipeline infer: {status} {body[:200]!r}")
                elif kind < 0.85:
                    path, payload = rng.choice(INVALID)
                    status, _, body = client.exchange("POST", path, payload)
                    if status in (400, 404) and b"error" in body:
                        count("refused_bad_input")
                    else:
                        problem(f"invalid request got {status} {body[:200]!r}")
                elif kind < 0.95:
                    # A client that vanishes: half a body, or a whole request never read.
                    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                    payload = json_infer(values)
                    head = (f"POST /v2/models/triple/infer HTTP/1.1\r\nHost: soak\r\n"
                            f"Content-Length: {len(payload)}\r\n\r\n").encode()
                    raw.sendall(head + payload[: rng.randint(0, len(payload))])
                    raw.close()
                    count("disconnects")
                else:
                    status, _, _ = client.exchange("GET", "/metrics")
                    if status != 200:
                        problem(f"/metrics: {status}")
            except (ConnectionError, OSError) as e:
                problem(f"connection failed: {e!r}")
                client.close()
        client.close()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    curve = []
    started = time.monotonic()
    while any(t.is_alive() for t in threads):
        curve.append((round(time.monotonic() - started, 1), rss_kib(server.process.pid)))
        time.sleep(1)
    for t in threads:
        t.join()
    alive = server.process.poll() is None
    ready = alive and server.get("/v2/health/ready").status == 200
    exit_code = server.stop()

    report = {"seconds": SECONDS, "clients": CLIENTS, "counts": counts,
              "rss_kib": curve, "problems": problems}
    out = ROOT / "build" / "soak.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nsoak: {counts}")
    print("RSS MiB by second: " + " ".join(f"{kib / 1024:.0f}" for _, kib in curve))

    assert alive and ready and exit_code == 0, "\n".join(server.log[-20:])
    assert not problems, problems
    assert counts["ok"] > 100 and counts["overloaded"] > 0 and counts["refused_bad_input"] > 0
    # Memory levels off: the last third of the run holds no more than the middle third did,
    # give or take 32 MiB for allocator noise.
    third = len(curve) // 3
    middle = max(kib for _, kib in curve[third:2 * third])
    last = max(kib for _, kib in curve[2 * third:])
    assert last <= middle + 32 * 1024, curve
