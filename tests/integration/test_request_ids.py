"""Request ids: taken from X-Request-Id or the v2 "id", echoed in X-Request-Id, and named in the
server's log lines (text or JSON)."""

import json
import time

from support.server import start_server

INFER = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}


def test_the_client_id_is_echoed_and_one_is_made_when_absent(server):
    r = server.post_json("/v2/models/versioned/infer", INFER,
                         headers={"X-Request-Id": "trace-42"})
    assert r.status == 200 and r.headers["x-request-id"] == "trace-42"
    r = server.post_json("/v2/models/versioned/infer", {**INFER, "id": "body-7"})
    assert r.status == 200 and r.headers["x-request-id"] == "body-7"
    assert r.json()["id"] == "body-7"
    made = {server.get("/v2/health/live").headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(len(i) == 16 for i in made)
    # Errors carry it too; an id that could not travel in a header is replaced.
    r = server.post_json("/v2/models/versioned/infer", {"inputs": []},
                         headers={"X-Request-Id": "bad id with spaces"})
    assert r.status == 400 and r.headers["x-request-id"] != "bad id with spaces"
    r = server.post_json("/v2/models/versioned/infer", {**INFER, "id": "line\r\nX-Evil: 1"})
    assert r.status == 200 and "x-evil" not in r.headers
    assert r.headers["x-request-id"] != "line\r\nX-Evil: 1"


def test_json_logs_name_every_request_by_its_id(repository):
    s = start_server(repository, "--log-format", "json", "--log-level", "debug")
    try:
        r = s.post_json("/v2/models/versioned/infer", INFER, headers={"X-Request-Id": "abc-123"})
        assert r.status == 200
        r = s.post_json("/v2/models/faulty/infer",
                        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",
                                     "data": [-1.0, 2.0]}]}, headers={"X-Request-Id": "bad-1"})
        assert r.status == 500
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("bad-1" in l for l in s.log):
            time.sleep(0.05)
    finally:
        assert s.stop() == 0
    records = [json.loads(line) for line in s.log]  # every line is one JSON object
    assert all({"time", "level", "message"} <= set(r) for r in records)
    ok = [r for r in records if "request abc-123:" in r["message"]]
    assert ok and "-> 200" in ok[0]["message"] and ok[0]["level"] == "debug"
    failed = [r for r in records if r["level"] == "warning" and "request bad-1:" in r["message"]]
    assert failed and "negative input is not allowed" in failed[0]["message"]
