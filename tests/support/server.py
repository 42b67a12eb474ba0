"""Starts a real `tandem serve` on a free port and talks HTTP to it, for the Python tests."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tandem_binary() -> str:
    return os.environ.get("TANDEM_BIN", str(ROOT / "build" / "tandem"))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class TandemServer:
    """A running server. Logs are collected from its stderr into `log`."""

    process: subprocess.Popen
    port: int
    log: list[str] = field(default_factory=list)
    grpc_ports: list[int] = field(default_factory=list)  # filled from the log

    @property
    def grpc_address(self) -> str:
        """host:port of the gRPC service (the server logs it just after the HTTP port)."""
        deadline = time.monotonic() + 30
        while not self.grpc_ports:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("no gRPC service in the log:\n" + "\n".join(self.log))
            time.sleep(0.01)
        return f"127.0.0.1:{self.grpc_ports[0]}"

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw) -> Response:
        return self.request("POST", path, body=body, **kw)

    def post_json(self, path: str, doc, **kw) -> Response:
        headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
        return self.request("POST", path, body=json.dumps(doc), headers=headers, **kw)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("tandem exited early:\n" + "\n".join(self.log))
            try:
                if self.get("/v2/health/ready").status == 200:
                    return
            except ConnectionRefusedError:  # not listening yet
                pass
            time.sleep(0.05)
        raise TimeoutError("tandem did not become ready:\n" + "\n".join(self.log))

    def resident_bytes(self) -> int:
        """The server process's resident memory (VmRSS)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def stop(self) -> int:
        """Sends SIGTERM and returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def port_flags() -> list[str]:
    """Free ports for HTTP and gRPC."""
    return ["--port", "0", "--grpc-port", "0"]


def start_server(repository: pathlib.Path | None, *args: str, env: dict | None = None,
                 wait_ready: bool = True, port_flag: bool = True) -> TandemServer:
    """Starts `tandem serve` on port 0 (or, without `port_flag`, where the server's own default
    puts it) and returns once it listens (and, by default, is ready)."""
    cmd = [tandem_binary(), "serve", *(port_flags() if port_flag else []), "--host", "127.0.0.1",
           *args]
    if repository is not None:
        cmd += ["--model-repository", str(repository)]
    process = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **(env or {})})
    log: list[str] = []
    port_found = threading.Event()
    port: list[int] = []
    grpc_port: list[int] = []

    def pump():
        for line in process.stderr:
            log.append(line.rstrip())
            if m := re.search(r"GRPCInferenceService on [^ ]+:(\d+)", line):
                grpc_port.append(int(m.group(1)))
            m = re.search(r"listening on [^ ]+:(\d+)", line)
            if m and not port:
                port.append(int(m.group(1)))
                port_found.set()
        port_found.set()

    threading.Thread(target=pump, daemon=True).start()
    port_found.wait(timeout=120)
    if not port:
        process.wait(timeout=10)
        raise RuntimeError("tandem did not start listening:\n" + "\n".join(log))
    server = TandemServer(process, port[0], log, grpc_port)
    if wait_ready:
        server.wait_ready()
    return server


def wait_for(predicate, timeout: float = 15) -> bool:
    """Polls `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
