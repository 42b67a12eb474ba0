"""Instances on every device, pull scheduling, dynamic batching, deadlines and queue limits,
over real HTTP. Simulated GPUs make this testable on a machine without GPUs."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from support.models import Classifier
from support.server import start_server

SIM_MODEL = """\
backend: sim
max_batch_size: 8
inputs: [{{name: x, datatype: FP32, shape: [4]}}]
outputs: [{{name: y, datatype: FP32, shape: [4]}}]
instances: [{{devices: {devices}, count: 1}}]
parameters: {{latency_us: {latency_us}, per_item_us: 100, scale: 3, offset: 0.5}}
{extra}"""


def write_sim_model(root, name, devices="sim", latency_us=2000, extra=""):
    (root / name).mkdir(parents=True)
    (root / name / "model.yaml").write_text(
        SIM_MODEL.format(devices=devices, latency_us=latency_us, extra=extra))


def infer_body(values, timeout_us=None):
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": values}]}
    if timeout_us is not None:
        body["parameters"] = {"timeout": timeout_us}
    return body


def stats_of(server, model):
    (entry,) = server.get(f"/v2/models/{model}/stats").json()["model_stats"]
    return entry


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim_repository")
    # Each execution takes 20 ms, long enough that 32 clients queue behind the 4 instances
    # even when the server runs slowly (a sanitizer build on a busy runner): batches form
    # from what queued while an instance was busy, not from a race against the delay.
    write_sim_model(root, "batched", latency_us=20000,
                    extra="dynamic_batching: {max_queue_delay_us: 2000, "
                          "preferred_batch_sizes: [8]}\n")
    # 100 ms an execution: a burst's requests all arrive while its first one runs, even when
    # the server runs slowly (a sanitizer build).
    write_sim_model(root, "lonely", devices="[sim:2]", latency_us=100000,
                    extra="dynamic_batching: {max_queue_delay_us: 300000}\n")
    write_sim_model(root, "slow", devices="[sim:0]", latency_us=300000)
    write_sim_model(root, "tiny_queue", devices="[sim:1]", latency_us=300000,
                    extra="dynamic_batching: {max_queue_size: 1}\n")
    s = start_server(root, "--sim-gpus", "4")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def test_four_sim_gpus_32_clients_right_answers_every_device_busy_and_batched(sim_server):
    def client(c):
        answers = []
        for i in range(25):
            x = [float(c), float(i), -1.0, 0.25]
            r = sim_server.post_json("/v2/models/batched/infer", infer_body(x))
            assert r.status == 200, r.body
            answers.append((x, r.json()["outputs"][0]["data"]))
        return answers

    with ThreadPoolExecutor(32) as pool:
        results = [a for answers in pool.map(client, range(32)) for a in answers]
    for x, y in results:
        assert y == [v * 3 + 0.5 for v in x]

    stats = stats_of(sim_server, "batched")
    assert stats["inference_count"] == 32 * 25
    assert stats["inference_stats"]["success"]["count"] == 32 * 25
    # Batching happened: far fewer executions than inferences.
    assert stats["execution_count"] <= stats["inference_count"] / 2, stats
    assert sum(b["batch_size"] * b["compute_infer"]["count"] for b in stats["batch_stats"]) == \
        stats["inference_count"]
    devices = {i["device"]: i for i in stats["instances"]}
    assert sorted(devices) == ["sim:0", "sim:1", "sim:2", "sim:3"]
    for instance in devices.values():
        assert instance["execution_count"] > 0, stats["instances"]
    assert sum(i["inference_count"] for i in devices.values()) == stats["inference_count"]


def test_a_lone_client_stops_waiting_for_company_and_a_burst_is_batched_again(sim_server):
    """One client waiting for each answer: once 8 requests in a row (DynamicBatcher::
    kLoneArrivals) found the model idle, a request no longer waits out max_queue_delay_us
    (300 ms here) for company that cannot come. A burst brings the waiting back."""
    def queue_ms_of_one_request():
        before = stats_of(sim_server, "lonely")["inference_stats"]["queue"]["ns"]
        r = sim_server.post_json("/v2/models/lonely/infer", infer_body([1.0, 2.0, 3.0, 4.0]))
        assert r.status == 200, r.body
        return (stats_of(sim_server, "lonely")["inference_stats"]["queue"]["ns"] - before) / 1e6

    waited = [queue_ms_of_one_request() for _ in range(7)]
    assert min(waited) >= 300, waited  # the batching delay, as configured
    alone = [queue_ms_of_one_request() for _ in range(3)]
    assert max(alone) < 150, alone  # the 8th lone arrival on: at once

    executions = stats_of(sim_server, "lonely")["execution_count"]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(
            lambda i: sim_server.post_json("/v2/models/lonely/infer",
                                           infer_body([float(i)] * 4)), range(8)))
    assert [r.status for r in responses] == [200] * 8
    # The first of the burst may run at once; the others, arriving while it runs, wait and merge.
    assert stats_of(sim_server, "lonely")["execution_count"] - executions <= 3


def test_all_model_stats(sim_server):
    names = {s["name"] for s in sim_server.get("/v2/models/stats").json()["model_stats"]}
    assert names == {"batched", "lonely", "slow", "tiny_queue"}
    assert sim_server.get("/v2/models/nope/stats").status == 404


def test_requests_past_their_deadline_are_never_run(sim_server):
    before = stats_of(sim_server, "slow")["inference_count"]
    # One instance, 300 ms a request: at most one of these can start within its 1 ms deadline.
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(
            lambda i: sim_server.post_json("/v2/models/slow/infer",
                                           infer_body([1.0] * 4, timeout_us=1000)), range(4)))
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 504}, statuses
    assert statuses.count(504) >= 3, statuses
    for r in responses:
        if r.status == 504:
            assert "deadline" in r.json()["error"]
    ran = stats_of(sim_server, "slow")["inference_count"] - before
    assert ran == statuses.count(200)


def test_a_full_queue_answers_503_with_retry_after(sim_server):
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(
            lambda i: sim_server.post_json("/v2/models/tiny_queue/infer", infer_body([2.0] * 4)),
            range(6)))
    statuses = sorted(r.status for r in responses)
    assert set(statuses) <= {200, 503}, statuses
    refused = [r for r in responses if r.status == 503]
    assert refused, statuses
    for r in refused:
        assert r.headers["retry-after"] == "1"
        assert "is full" in r.json()["error"]


def test_sim_models_need_sim_gpus(tmp_path):
    write_sim_model(tmp_path, "needs_sim")
    s = start_server(tmp_path, wait_ready=False)
    try:
        index = None
        for _ in range(200):
            index = s.post("/v2/repository/index", b"").json()
            if index[0]["state"] != "LOADING":
                break
        assert index[0]["state"] == "UNAVAILABLE"
        assert "--sim-gpus" in index[0]["reason"]
        assert s.get("/ping").status == 503
    finally:
        assert s.stop() == 0


def test_cpu_torchscript_model_with_two_instances(tmp_path):
    torch.manual_seed(0)
    model_dir = tmp_path / "classifier"
    (model_dir / "1").mkdir(parents=True)
    torch.jit.script(Classifier().eval()).save(str(model_dir / "1" / "model.pt"))
    (model_dir / "model.yaml").write_text(
        "backend: torchscript\nmax_batch_size: 8\n"
        "inputs: [{name: image, datatype: FP32, shape: [3, 16, 16]}]\n"
        "outputs: [{name: probabilities, datatype: FP32, shape: [5]}]\n"
        "instances: [{devices: cpu, count: 2}]\n")
    module = torch.jit.load(str(model_dir / "1" / "model.pt"))
    s = start_server(tmp_path)
    try:
        rng = np.random.default_rng(7)
        images = [rng.random((1, 3, 16, 16), dtype=np.float32) for _ in range(64)]

        def one(image):
            r = s.post_json("/v2/models/classifier/infer",
                            {"inputs": [{"name": "image", "shape": [1, 3, 16, 16],
                                         "datatype": "FP32", "data": image.flatten().tolist()}]})
            assert r.status == 200, r.body
            return np.array(r.json()["outputs"][0]["data"], np.float32)

        with ThreadPoolExecutor(8) as pool:
            outputs = list(pool.map(one, images))
        for image, got in zip(images, outputs):
            expected = module(torch.from_numpy(image)).detach().numpy()[0]
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        instances = stats_of(s, "classifier")["instances"]
        assert [i["device"] for i in instances] == ["cpu", "cpu"]
        assert sum(i["inference_count"] for i in instances) == 64
        assert all(i["execution_count"] > 0 for i in instances), instances
        # No CUDA graphs on the CPU (tests/gpu checks the counts where they are captured).
        assert all(i["cuda_graphs_captured"] == i["cuda_graph_replays"] == 0 for i in instances)
    finally:
        assert s.stop() == 0
