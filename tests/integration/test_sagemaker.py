"""The SageMaker hosting contract: /ping, /invocations, model selection, npy, SageMaker mode."""

import io
import json
import os
import socket
import subprocess

import numpy as np
import torch

from support.models import export_test_repository
from support.server import start_server, tandem_binary


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_ping_is_healthy_once_models_are_ready(server):
    r = server.get("/ping")
    assert r.status == 200


def test_invocations_with_v2_json_uses_the_default_model(server, repository):
    image = np.random.default_rng(3).random((1, 3, 16, 16), dtype=np.float32)
    r = server.post_json("/invocations", {"inputs": [{"name": "image", "shape": [1, 3, 16, 16],
                                                      "datatype": "FP32",
                                                      "data": image.flatten().tolist()}]})
    assert r.status == 200, r.body
    body = r.json()
    assert body["model_name"] == "classifier"
    module = torch.jit.load(str(repository / "classifier" / "1" / "model.pt"))
    expected = module(torch.from_numpy(image)).detach().numpy()
    np.testing.assert_allclose(np.array(body["outputs"][0]["data"]).reshape(1, 5), expected,
                               rtol=1e-5, atol=1e-6)


def test_target_model_header_selects_the_model(server):
    r = server.post_json("/invocations",
                         {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                      "data": [1.0]}]},
                         headers={"X-Amzn-SageMaker-Target-Model": "versioned"})
    assert r.status == 200 and r.json()["outputs"][0]["data"] == [3.0]


def test_npy_in_and_out(server, repository):
    x = np.array([[5, -7, 256]], np.int64)
    r = server.post("/invocations", npy_bytes(x),
                    headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy",
                             "X-Amzn-SageMaker-Target-Model": "two_outputs"})
    # two_outputs takes FP32: the dtype mismatch is named.
    assert r.status == 400 and "INT64" in r.json()["error"]

    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    r = server.post("/invocations", npy_bytes(x),
                    headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy",
                             "X-Amzn-SageMaker-Target-Model": "versioned"})
    assert r.status == 400 and "shape [2, 4]" in r.json()["error"]

    image = np.random.default_rng(4).random((2, 3, 16, 16), dtype=np.float32)
    r = server.post("/invocations", npy_bytes(image),
                    headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/x-npy"
    out = np.load(io.BytesIO(r.body))
    assert out.shape == (2, 5) and out.dtype == np.float32
    # The classifier on exactly these pixels: a decoder that transposed or zeroed them fails.
    classifier = torch.jit.load(str(repository / "classifier" / "1" / "model.pt"))
    expected = classifier(torch.from_numpy(image)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_npy_in_json_out(server):
    image = np.zeros((1, 3, 16, 16), np.float32)
    r = server.post("/invocations", npy_bytes(image), headers={"Content-Type": "application/x-npy"})
    assert r.status == 200
    assert r.json()["outputs"][0]["shape"] == [1, 5]


def test_npy_accept_needs_a_single_output(server):
    r = server.post("/invocations", npy_bytes(np.zeros((1, 4), np.float32)),
                    headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy",
                             "X-Amzn-SageMaker-Target-Model": "two_outputs"})
    assert r.status == 406 and "returned 2" in r.json()["error"]


def test_bad_npy_body(server):
    r = server.post("/invocations", b"\x93NUMPY garbage",
                    headers={"Content-Type": "application/x-npy"})
    assert r.status == 400


def test_many_models_without_a_default_must_be_named(repository):
    s = start_server(repository)
    try:
        r = s.post_json("/invocations", {"inputs": []})
        assert r.status == 400
        assert "X-Amzn-SageMaker-Target-Model" in r.json()["error"]
    finally:
        assert s.stop() == 0


def test_the_only_model_is_the_default(tmp_path):
    repo = export_test_repository(tmp_path / "all")
    only = tmp_path / "only"
    only.mkdir()
    (repo / "versioned").rename(only / "versioned")
    s = start_server(only)
    try:
        r = s.post_json("/invocations", {"inputs": [{"name": "x", "shape": [1, 1],
                                                     "datatype": "FP32", "data": [0.0]}]})
        assert r.status == 200 and r.json()["outputs"][0]["data"] == [2.0]
    finally:
        assert s.stop() == 0


def test_sagemaker_mode_reads_opt_ml_model_and_the_port_variable(repository):
    # With no --model-repository, serve is SageMaker's `serve`: /opt/ml/model on
    # SAGEMAKER_BIND_TO_PORT. This machine has no /opt/ml/model, so it must say so and exit.
    r = subprocess.run([tandem_binary(), "serve"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "SAGEMAKER_BIND_TO_PORT": "0"})
    assert r.returncode != 0
    assert "/opt/ml/model" in r.stderr
    # Without --port, the server listens on SAGEMAKER_BIND_TO_PORT.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = start_server(repository, env={"SAGEMAKER_BIND_TO_PORT": str(port)}, port_flag=False)
    try:
        assert s.port == port
        assert s.get("/ping").status == 200
    finally:
        assert s.stop() == 0


SLOW_TO_LOAD = """\
backend: sim
max_batch_size: 1
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
instances: [{devices: sim, count: 1}]
warmup: {batch_sizes: [1]}
parameters: {latency_us: 3000000}
"""


def test_ping_is_503_while_loading_and_the_server_accepts_at_once(tmp_path):
    # Its warm-up takes 3 s on the simulated GPU: the server listens before it loads, so /ping
    # answers at once, 503 until the model is ready.
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "model.yaml").write_text(SLOW_TO_LOAD)
    s = start_server(tmp_path, "--sim-gpus", "1", wait_ready=False)
    try:
        r = s.get("/ping")
        assert r.status == 503, r.body
        s.wait_ready()
        assert s.get("/ping").status == 200
    finally:
        assert s.stop() == 0
