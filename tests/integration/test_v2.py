"""The v2 REST routes over real HTTP, checked against the same models run in PyTorch."""

import http.client
import json
import struct

import numpy as np
import pytest
import torch

# Tandem runs the same TorchScript file with the same CPU kernels; batching may change the
# order of floating-point reductions, so outputs are compared within this tolerance.
RTOL, ATOL = 1e-5, 1e-6


def torch_reference(repository, model, *inputs, version=1):
    module = torch.jit.load(str(repository / model / str(version) / "model.pt"))
    with torch.inference_mode():
        return module(*[torch.from_numpy(x) for x in inputs])


def v2_input(name, array, datatype):
    return {"name": name, "shape": list(array.shape), "datatype": datatype,
            "data": array.flatten().tolist()}


def test_server_metadata_and_health(server):
    meta = server.get("/v2").json()
    assert meta["name"] == "tandem"
    assert meta["extensions"] == ["binary_tensor_data", "model_configuration",
                                  "model_repository", "statistics"]
    assert server.get("/v2/health/live").status == 200
    assert server.get("/v2/health/ready").status == 200


def test_model_metadata_marks_the_batch_dimension(server):
    meta = server.get("/v2/models/classifier").json()
    assert meta["name"] == "classifier"
    assert meta["versions"] == ["1"]
    assert meta["platform"] == "pytorch_libtorch"
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 16, 16]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 5]}]
    unbatched = server.get("/v2/models/dict_outputs").json()
    assert unbatched["inputs"][0]["shape"] == [2, 2]


def test_model_config_and_readiness(server):
    config = server.get("/v2/models/classifier/config").json()
    assert config["max_batch_size"] == 8
    assert config["input"] == [{"name": "image", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}]
    assert server.get("/v2/models/classifier/ready").status == 200
    assert server.get("/v2/models/classifier/versions/1/ready").status == 200


def test_json_inference_matches_pytorch(server, repository):
    image = np.random.default_rng(1).random((3, 3, 16, 16), dtype=np.float32)
    r = server.post_json("/v2/models/classifier/infer",
                         {"id": "req-7", "inputs": [v2_input("image", image, "FP32")]})
    assert r.status == 200, r.body
    body = r.json()
    assert body["model_name"] == "classifier"
    assert body["model_version"] == "1"
    assert body["id"] == "req-7"
    (out,) = body["outputs"]
    assert out["name"] == "probabilities" and out["datatype"] == "FP32" and out["shape"] == [3, 5]
    expected = torch_reference(repository, "classifier", image).numpy()
    np.testing.assert_allclose(np.array(out["data"], np.float32).reshape(3, 5), expected,
                               rtol=RTOL, atol=ATOL)


def test_nested_json_data_is_accepted(server):
    x = [[1.0, 2.0], [3.0, 4.0]]
    r = server.post_json("/v2/models/dict_outputs/infer",
                         {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": x}]})
    assert r.status == 200, r.body
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    # Dict outputs map by key; the response keeps the config's order.
    assert [o["name"] for o in r.json()["outputs"]] == ["plus", "minus"]
    assert outputs["plus"] == [2.0, 3.0, 4.0, 5.0]
    assert outputs["minus"] == [0.0, 1.0, 2.0, 3.0]


def test_tuple_outputs_map_by_position_and_subset_by_request(server):
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    r = server.post_json("/v2/models/two_outputs/infer",
                         {"inputs": [v2_input("x", x, "FP32")]})
    assert r.status == 200, r.body
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["doubled"]["data"] == (x * 2).flatten().tolist()
    assert outs["total"]["shape"] == [2] and outs["total"]["data"] == [6.0, 22.0]
    only = server.post_json("/v2/models/two_outputs/infer",
                            {"inputs": [v2_input("x", x, "FP32")], "outputs": [{"name": "total"}]})
    assert [o["name"] for o in only.json()["outputs"]] == ["total"]


def test_integer_and_bool_types(server):
    x = np.array([[-3, 0, 300]], dtype=np.int64)
    r = server.post_json("/v2/models/integers/infer", {"inputs": [v2_input("x", x, "INT64")]})
    assert r.status == 200, r.body
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["doubled"]["data"] == [-6, 0, 600]
    assert outs["positive"]["datatype"] == "BOOL" and outs["positive"]["data"] == [False, False, True]
    assert outs["low_byte"]["datatype"] == "UINT8" and outs["low_byte"]["data"] == [253, 0, 44]


def binary_request(inputs, outputs=None, binary_output=True):
    """A v2 request with every input as binary data; returns (body, json_length)."""
    doc = {"inputs": [], "parameters": {"binary_data_output": binary_output}}
    blobs = []
    for name, array, datatype in inputs:
        raw = array.tobytes()
        doc["inputs"].append({"name": name, "shape": list(array.shape), "datatype": datatype,
                              "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    if outputs:
        doc["outputs"] = outputs
    header = json.dumps(doc).encode()
    return header + b"".join(blobs), len(header)


def split_binary_response(r):
    json_length = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.body[:json_length])
    offset, arrays = json_length, {}
    dtypes = {"FP32": np.float32, "FP16": np.float16, "INT64": np.int64, "BOOL": np.bool_,
              "UINT8": np.uint8}
    for out in doc["outputs"]:
        size = out["parameters"]["binary_data_size"]
        arrays[out["name"]] = np.frombuffer(r.body[offset:offset + size],
                                            dtypes[out["datatype"]]).reshape(out["shape"])
        offset += size
    assert offset == len(r.body)
    return doc, arrays


def test_binary_data_extension_both_ways(server, repository):
    image = np.random.default_rng(2).random((2, 3, 16, 16), dtype=np.float32)
    body, json_length = binary_request([("image", image, "FP32")])
    r = server.post("/v2/models/classifier/infer", body,
                    headers={"Inference-Header-Content-Length": str(json_length)})
    assert r.status == 200, r.body
    _, arrays = split_binary_response(r)
    expected = torch_reference(repository, "classifier", image).numpy()
    np.testing.assert_allclose(arrays["probabilities"], expected, rtol=RTOL, atol=ATOL)


def test_per_output_binary_choice(server):
    x = np.ones((1, 4), np.float32)
    body, json_length = binary_request(
        [("x", x, "FP32")], outputs=[{"name": "doubled", "parameters": {"binary_data": True}},
                                     {"name": "total"}], binary_output=False)
    r = server.post("/v2/models/two_outputs/infer", body,
                    headers={"Inference-Header-Content-Length": str(json_length)})
    assert r.status == 200, r.body
    json_length = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.body[:json_length])
    outs = {o["name"]: o for o in doc["outputs"]}
    assert outs["doubled"]["parameters"]["binary_data_size"] == 16 and "data" not in outs["doubled"]
    assert outs["total"]["data"] == [4.0]
    assert np.frombuffer(r.body[json_length:], np.float32).tolist() == [2.0] * 4


def test_fp16_travels_as_binary(server):
    x = np.array([[1.5, -2.0, 0.25, 8.0]], np.float16)
    body, json_length = binary_request([("x", x, "FP16")], binary_output=False)
    r = server.post("/v2/models/half/infer", body,
                    headers={"Inference-Header-Content-Length": str(json_length)})
    assert r.status == 200, r.body
    _, arrays = split_binary_response(r)
    np.testing.assert_array_equal(arrays["y"], x * 2)


def test_raw_body_with_zero_header_length(server):
    x = np.array([[-1, 2, 3]], np.int64)
    r = server.post("/v2/models/integers/infer", x.tobytes(),
                    headers={"Inference-Header-Content-Length": "0"})
    assert r.status == 200, r.body
    _, arrays = split_binary_response(r)
    assert arrays["doubled"].tolist() == [[-2, 4, 6]]


def test_versions_are_addressable_and_the_highest_is_default(server):
    req = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [10.0]}]}
    assert server.get("/v2/models/versioned").json()["versions"] == ["1", "2"]
    latest = server.post_json("/v2/models/versioned/infer", req).json()
    assert latest["model_version"] == "2" and latest["outputs"][0]["data"] == [12.0]
    v1 = server.post_json("/v2/models/versioned/versions/1/infer", req).json()
    assert v1["model_version"] == "1" and v1["outputs"][0]["data"] == [11.0]


def test_chunked_request_body(server):
    doc = json.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                  "data": [1.0]}]}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/v2/models/versioned/infer")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    for i in range(0, len(doc), 7):
        chunk = doc[i:i + 7]
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 200
    assert json.loads(r.read())["outputs"][0]["data"] == [3.0]


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for i in range(20):
        body = json.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                       "data": [float(i)]}]})
        conn.request("POST", "/v2/models/versioned/infer", body=body)
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["outputs"][0]["data"] == [i + 2.0]
    conn.close()


def test_concurrent_requests_all_get_their_own_answers(server):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        body = {"id": str(i), "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                          "data": [float(i)]}]}
        r = server.post_json("/v2/models/versioned/infer", body).json()
        return r["id"], r["outputs"][0]["data"][0]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(200)))
    assert results == [(str(i), i + 2.0) for i in range(200)]


def test_repository_index(server):
    index = server.post("/v2/repository/index", b"").json()
    entries = {(e["name"], e["version"]): e["state"] for e in index}
    assert entries[("classifier", "1")] == "READY"
    assert entries[("versioned", "2")] == "READY"
