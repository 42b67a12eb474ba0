"""--max-inflight-bytes: the bytes of request bodies held at once are bounded as a whole, over
HTTP and gRPC. A flood of slow large bodies gets 503s (the ones that would pass the budget are
refused from their Content-Length, before their body is read; chunked ones as they cross it;
JSON ones with the tensors they decode to), the server's memory stays within the budget plus a
constant, and small requests are served meanwhile."""

import socket
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from support.metrics import scrape, value
from support.server import start_server

BUDGET = 64 << 20
BODY = 20 << 20  # each large client announces this much


def headers(length=None, chunked=False):
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    return (f"POST /v2/models/two_outputs/infer HTTP/1.1\r\nHost: t\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode()


def answer_within(sock, seconds):
    """The status line the server sent within `seconds`, or None."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return None
    return data.split(b"\r\n", 1)[0].decode() if data else None


@pytest.fixture
def server(repository):
    s = start_server(repository, "--max-inflight-bytes", str(BUDGET))
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def small_request(s):
    return s.post_json("/v2/models/two_outputs/infer", {"inputs": [
        {"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]}]})


def test_a_flood_of_slow_large_bodies(server):
    s = server
    before = s.resident_bytes()
    clients, refused, held = [], [], []
    for _ in range(12):  # 240 MiB announced against a 64 MiB budget
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(headers(BODY))
        clients.append(sock)
        status = answer_within(sock, 0.3)
        (refused if status else held).append((sock, status))
    assert len(held) == BUDGET // BODY, [status for _, status in refused]
    assert all(status == "HTTP/1.1 503 Service Unavailable" for _, status in refused)
    # The held ones send most of their bodies, slowly, and wait.
    chunk = b" " * (1 << 20)
    for _ in range(15):
        for sock, _ in held:
            sock.sendall(chunk)
    # A chunked body crosses the budget as it arrives: refused then.
    chunked = socket.create_connection(("127.0.0.1", s.port))
    clients.append(chunked)
    chunked.sendall(headers(chunked=True))
    status = None
    for _ in range(16):
        try:
            chunked.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            break
        if status := answer_within(chunked, 0.05):
            break
    assert status == "HTTP/1.1 503 Service Unavailable"

    # Small requests are served meanwhile, and the memory stays within the budget.
    for _ in range(5):
        r = small_request(s)
        assert r.status == 200, r.body
    m = scrape(s)
    assert value(m, "tandem_request_bytes_held") >= len(held) * BODY
    assert value(m, "tandem_request_bytes_held") <= BUDGET + (1 << 20)
    assert value(m, "tandem_requests_refused_for_memory_total") >= len(refused) + 1
    grown = s.resident_bytes() - before
    assert grown < BUDGET + (48 << 20), f"grew {grown >> 20} MiB"
    # What a JSON body decodes to counts as well: 3 MiB of zeros fit in the 4 MiB left, but not
    # with the 4 MiB of FP32 values they become. (After the memory check: parsing the JSON
    # takes memory for a moment, which an ASan build keeps in quarantine.)
    zeros = {"inputs": [{"name": "x", "shape": [1, 1 << 20], "datatype": "FP32",
                         "data": [0] * (1 << 20)}]}
    r = s.post_json("/v2/models/two_outputs/infer", zeros)
    assert r.status == 503, r.body
    assert "--max-inflight-bytes" in r.json()["error"] and r.headers["retry-after"] == "1"

    # gRPC shares the budget: a 24 MB tensor does not fit now; a small one does.
    c = grpcclient.InferenceServerClient(s.grpc_address)
    try:
        big = grpcclient.InferInput("x", [1, 6 << 20], "FP32")
        big.set_data_from_numpy(np.zeros((1, 6 << 20), np.float32))
        with pytest.raises(InferenceServerException) as error:
            c.infer("two_outputs", [big])
        assert error.value.status() == "StatusCode.UNAVAILABLE"
        assert "--max-inflight-bytes" in error.value.message()
        small = grpcclient.InferInput("x", [1, 2], "FP32")
        small.set_data_from_numpy(np.ones((1, 2), np.float32))
        assert c.infer("two_outputs", [small]).as_numpy("total").tolist() == [2.0]
    finally:
        c.close()

    for sock in clients:
        sock.close()
    deadline = time.monotonic() + 10  # the held bodies are let go with their connections
    while value(scrape(s), "tandem_request_bytes_held") > (1 << 20):
        assert time.monotonic() < deadline, "the held bodies were not released"
        time.sleep(0.05)
    assert small_request(s).status == 200
