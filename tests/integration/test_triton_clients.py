"""Where Tandem's v2 over HTTP meets what Triton's clients rely on: timeout 0 means none, a raw
body fills one dimension of any size, a requested output named twice is refused, compressed
bodies both ways, and SageMaker's binary content type (SageMaker passes no other request header,
so the JSON part's length travels in the content type)."""

import gzip
import json
import zlib

import numpy as np
import pytest

from conftest import MAX_BODY_BYTES

SAGEMAKER_BINARY = "application/vnd.sagemaker-triton.binary+json"


def two_outputs_request(values, **extra):
    return {"inputs": [{"name": "x", "shape": [1, len(values)], "datatype": "FP32",
                        "data": values}], **extra}


def test_timeout_zero_is_no_timeout(server):
    r = server.post_json("/v2/models/two_outputs/infer",
                         two_outputs_request([1.0, 2.0], parameters={"timeout": 0}))
    assert r.status == 200, r.body
    assert r.json()["outputs"][1]["data"] == [3.0]


def test_an_output_requested_twice_is_refused(server):
    r = server.post_json("/v2/models/two_outputs/infer",
                         two_outputs_request([1.0], outputs=[{"name": "total"},
                                                             {"name": "total"}]))
    assert r.status == 400, r.body
    assert r.json()["error"] == "output 'total' already exists in request"


def test_a_raw_body_fills_the_one_dimension_of_any_size(server):
    x = np.arange(5, dtype=np.float32)
    r = server.post("/v2/models/two_outputs/infer", x.tobytes(),
                    headers={"Inference-Header-Content-Length": "0"})
    assert r.status == 200, r.body
    json_length = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.body[:json_length])
    outs = {o["name"]: o for o in doc["outputs"]}
    assert outs["doubled"]["shape"] == [1, 5]
    doubled = np.frombuffer(r.body[json_length:json_length + 20], np.float32)
    np.testing.assert_array_equal(doubled, x * 2)

    r = server.post("/v2/models/two_outputs/infer", b"\0" * 7,
                    headers={"Inference-Header-Content-Length": "0"})
    assert r.status == 400 and "7 bytes" in r.json()["error"], r.body


@pytest.mark.parametrize("encoding,compress", [("gzip", gzip.compress),
                                               ("deflate", zlib.compress)])
def test_compressed_request_bodies_and_responses(server, encoding, compress):
    body = json.dumps(two_outputs_request([1.0, 2.0, 3.0])).encode()
    r = server.post("/v2/models/two_outputs/infer", compress(body),
                    headers={"Content-Encoding": encoding, "Content-Type": "application/json"})
    assert r.status == 200, r.body
    assert "content-encoding" not in r.headers  # not asked for
    assert r.json()["outputs"][1]["data"] == [6.0]

    r = server.post("/v2/models/two_outputs/infer", body,
                    headers={"Accept-Encoding": f"br;q=1, {encoding}"})
    assert r.status == 200
    assert r.headers["content-encoding"] == encoding
    inflated = gzip.decompress(r.body) if encoding == "gzip" else zlib.decompress(r.body)
    assert json.loads(inflated)["outputs"][1]["data"] == [6.0]


def test_compressed_bodies_that_are_bad_or_too_big_are_refused(server):
    body = json.dumps(two_outputs_request([1.0])).encode()
    r = server.post("/v2/models/two_outputs/infer", gzip.compress(body)[:-6],
                    headers={"Content-Encoding": "gzip"})
    assert r.status == 400 and "gzip" in r.json()["error"], r.body
    r = server.post("/v2/models/two_outputs/infer", body, headers={"Content-Encoding": "br"})
    assert r.status == 415 and "'br'" in r.json()["error"], r.body
    # A bomb: 1 KiB on the wire, past the body limit inflated. 413, and the server serves on.
    bomb = gzip.compress(b"\0" * (MAX_BODY_BYTES + 1))
    assert len(bomb) < MAX_BODY_BYTES // 100
    r = server.post("/v2/models/two_outputs/infer", bomb, headers={"Content-Encoding": "gzip"})
    assert r.status == 413 and "--max-body-bytes" in r.json()["error"], r.body
    assert server.post_json("/v2/models/two_outputs/infer",
                            two_outputs_request([1.0])).status == 200


def sagemaker_binary_request(x):
    header = json.dumps({
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes}}],
        "parameters": {"binary_data_output": True}}).encode()
    return header + x.tobytes(), f"{SAGEMAKER_BINARY};json-header-size={len(header)}"


def test_the_sagemaker_binary_content_type_both_ways(server):
    x = np.array([[1.0, -2.0, 4.0]], np.float32)
    body, content_type = sagemaker_binary_request(x)
    r = server.post("/invocations", body, headers={
        "Content-Type": content_type, "X-Amzn-SageMaker-Target-Model": "two_outputs"})
    assert r.status == 200, r.body
    media, _, param = r.headers["content-type"].partition(";")
    assert media == SAGEMAKER_BINARY and param.startswith("json-header-size=")
    json_length = int(param.split("=")[1])
    doc = json.loads(r.body[:json_length])
    assert [o["name"] for o in doc["outputs"]] == ["doubled", "total"]
    values = np.frombuffer(r.body[json_length:], np.float32)
    np.testing.assert_array_equal(values, [2.0, -4.0, 8.0, 3.0])


@pytest.mark.parametrize("param", ["", ";json-header-size=", ";json-header-size=abc",
                                   ";json-header-size=99999"])
def test_a_malformed_json_header_size_is_a_400_naming_it(server, param):
    body, _ = sagemaker_binary_request(np.ones((1, 2), np.float32))
    r = server.post("/invocations", body, headers={
        "Content-Type": SAGEMAKER_BINARY + param, "X-Amzn-SageMaker-Target-Model": "two_outputs"})
    assert r.status == 400, r.body
    assert "json-header-size" in r.json()["error"], r.body
