"""Bad input gets a 4xx naming what was wrong, and the server keeps serving (issue: foundation)."""

import json

import numpy as np
import pytest

from conftest import MAX_BODY_BYTES

INFER = "/v2/models/classifier/infer"


def image_input(shape=(1, 3, 16, 16), datatype="FP32", name="image", data=None):
    count = int(np.prod(shape)) if all(d >= 0 for d in shape) else 1
    return {"name": name, "shape": list(shape), "datatype": datatype,
            "data": data if data is not None else [0.5] * count}


def expect_error(r, status, *fragments):
    assert r.status == status, (r.status, r.body)
    message = r.json()["error"]
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture(autouse=True)
def server_still_serves(server):
    """After every bad request, a good one still gets the right answer."""
    yield
    r = server.post_json(INFER, {"inputs": [image_input()]})
    assert r.status == 200, r.body
    assert len(r.json()["outputs"][0]["data"]) == 5


def test_malformed_json(server):
    r = server.post(INFER, b'{"inputs": [', headers={"Content-Type": "application/json"})
    expect_error(r, 400, "malformed JSON")


def test_empty_body(server):
    expect_error(server.post(INFER, b""), 400, "empty")


def test_missing_input(server):
    r = server.post_json("/v2/models/dict_outputs/infer", {"inputs": []})
    expect_error(r, 400, "missing input 'x'")


def test_extra_input(server):
    r = server.post_json(INFER, {"inputs": [image_input(), image_input(name="mask")]})
    expect_error(r, 400, "unknown input 'mask'", "takes image")


def test_misnamed_input(server):
    expect_error(server.post_json(INFER, {"inputs": [image_input(name="img")]}), 400,
                 "unknown input 'img'")


def test_duplicate_input(server):
    expect_error(server.post_json(INFER, {"inputs": [image_input(), image_input()]}), 400,
                 "given twice")


def test_wrong_datatype(server):
    r = server.post_json(INFER, {"inputs": [image_input(datatype="FP64")]})
    expect_error(r, 400, "datatype FP64", "expects FP32")


def test_unknown_datatype(server):
    expect_error(server.post_json(INFER, {"inputs": [image_input(datatype="FLOAT32")]}), 400,
                 "unknown datatype 'FLOAT32'")


def test_shape_does_not_match_data_length(server):
    r = server.post_json(INFER, {"inputs": [image_input(data=[0.5] * 10)]})
    expect_error(r, 400, "needs 768 elements but data holds 10")


def test_shape_does_not_match_config(server):
    r = server.post_json(INFER, {"inputs": [image_input(shape=(1, 3, 8, 8))]})
    expect_error(r, 400, "shape [1, 3, 8, 8]", "expects [-1, 3, 16, 16]")


def test_batch_over_max_batch_size(server):
    r = server.post_json(INFER, {"inputs": [image_input(shape=(9, 3, 16, 16))]})
    expect_error(r, 400, "batch size 9", "1 to 8")


def test_negative_dimension(server):
    r = server.post_json(INFER, {"inputs": [image_input(shape=(1, 3, -16, 16), data=[0.5])]})
    expect_error(r, 400, "shape")


def test_absurd_dimensions_do_not_allocate(server):
    r = server.post_json(INFER, {"inputs": [image_input(shape=(1 << 40, 1 << 40, 1 << 40),
                                                       data=[0.5])]})
    expect_error(r, 400, "64 bits")
    r = server.post_json(INFER, {"inputs": [image_input(shape=(1 << 30, 3, 16, 16), data=[0.5])]})
    expect_error(r, 400, "elements but data holds 1")


def binary(json_doc, payload=b"", header_length=None):
    head = json.dumps(json_doc).encode()
    length = len(head) if header_length is None else header_length
    return head + payload, {"Inference-Header-Content-Length": str(length)}


def test_binary_size_overruns_body(server):
    doc = {"inputs": [{"name": "image", "shape": [1, 3, 16, 16], "datatype": "FP32",
                       "parameters": {"binary_data_size": 1 << 40}}]}
    body, headers = binary(doc, b"\0" * 64)
    expect_error(server.post(INFER, body, headers=headers), 400, "overruns the body")


def test_header_length_overruns_body(server):
    doc = {"inputs": [image_input()]}
    body, headers = binary(doc, header_length=10**9)
    expect_error(server.post(INFER, body, headers=headers), 400,
                 "Inference-Header-Content-Length")
    headers["Inference-Header-Content-Length"] = "-4"
    expect_error(server.post(INFER, body, headers=headers), 400, "not a byte count")


def test_binary_size_not_matching_shape(server):
    doc = {"inputs": [{"name": "image", "shape": [1, 3, 16, 16], "datatype": "FP32",
                       "parameters": {"binary_data_size": 16}}]}
    body, headers = binary(doc, b"\0" * 16)
    expect_error(server.post(INFER, body, headers=headers), 400, "needs 3072 bytes")


def test_bytes_element_lengths_that_overrun(server):
    payload = (1000).to_bytes(4, "little") + b"abc"
    doc = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                       "parameters": {"binary_data_size": len(payload)}}]}
    body, headers = binary(doc, payload)
    expect_error(server.post(INFER, body, headers=headers), 400, "claims 1000 bytes")


def test_fp16_data_in_json(server):
    r = server.post_json("/v2/models/half/infer",
                         {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP16",
                                      "data": [1, 2, 3, 4]}]})
    expect_error(r, 400, "FP16", "binary data extension")


def test_deeply_nested_json(server):
    body = '{"inputs":[{"name":"image","shape":[1],"datatype":"FP32","data":' + \
           "[" * 50000 + "1" + "]" * 50000 + "}]}"
    expect_error(server.post(INFER, body), 400, "nests deeper")


def test_unknown_model_and_version(server):
    expect_error(server.post_json("/v2/models/nope/infer", {"inputs": []}), 404,
                 "unknown model 'nope'")
    expect_error(server.post_json("/v2/models/classifier/versions/7/infer",
                                  {"inputs": [image_input()]}), 404, "no version '7'")
    expect_error(server.get("/v2/models/nope"), 404, "unknown model")
    expect_error(server.get("/v2/nothing/here"), 404, "no route")


def test_body_over_the_limit(server):
    r = server.post(INFER, b" " * (MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"})
    expect_error(r, 413, "--max-body-bytes")


def test_wrong_content_type_on_invocations(server):
    r = server.post("/invocations", b"a,b,c", headers={"Content-Type": "text/csv"})
    expect_error(r, 415, "text/csv", "application/json")


def test_unsupported_accept_on_invocations(server):
    r = server.post_json("/invocations", {"inputs": [image_input()]},
                         headers={"Accept": "image/png"})
    expect_error(r, 406, "image/png")


def test_wrong_method(server):
    assert server.get(INFER).status == 405
    assert server.post("/ping", b"").status == 405


def test_model_that_throws_gives_500_and_the_next_request_works(server):
    bad = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [-1.0, 0.0]}]}
    r = server.post_json("/v2/models/faulty/infer", bad)
    expect_error(r, 500, "negative input is not allowed")
    good = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]}]}
    r = server.post_json("/v2/models/faulty/infer", good)
    assert r.status == 200 and r.json()["outputs"][0]["data"] == [2.0, 3.0]


def test_model_out_of_memory_is_a_503_and_the_instance_stays_usable(server):
    r = server.post_json("/v2/models/greedy/infer",
                         {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                      "data": [64.0]}]})
    expect_error(r, 503, "model 'greedy': out of host memory")
    assert r.headers["retry-after"] == "1"
    r = server.post_json("/v2/models/greedy/infer",
                         {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                      "data": [-1.0]}]})
    assert r.status == 200 and r.json()["outputs"][0]["data"] == [0.0]


def test_model_output_not_matching_its_config_is_a_500_that_names_it(server):
    r = server.post_json("/v2/models/wrong_dtype/infer",
                         {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                      "data": [1.0]}]})
    expect_error(r, 500, "output 'y' is FP64", "declares FP32")


def test_malformed_http_is_a_400(server):
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply


@pytest.mark.parametrize("path", [
    "/v2/models/..%2F..%2Fetc%2Fpasswd/config",
    "/v2/models/.hidden/ready",
    "/v2/models/a%00b/infer",
    "/v2/models/classifier/versions/..%2F1/config",
    "/v2/models/classifier/versions/-1/ready",
])
def test_model_names_and_versions_that_could_name_a_path_are_refused(server, path):
    method = "POST" if path.endswith("/infer") else "GET"
    r = server.request(method, path, body=b"{}" if method == "POST" else None)
    expect_error(r, 400, "is not a valid model name" if "versions" not in path
                 else "is not a version number")


def test_target_model_header_is_checked_like_a_url(server):
    r = server.post_json("/invocations", {"inputs": []},
                         headers={"X-Amzn-SageMaker-Target-Model": "../classifier"})
    expect_error(r, 400, "'../classifier' is not a valid model name")
