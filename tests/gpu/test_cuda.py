"""The TorchScript backend on CUDA devices: the same model, device-generic code, right answers.

Runs only where LibTorch sees a GPU (pytest marker `gpu`); skipped elsewhere.
"""

import numpy as np
import pytest
import torch

from support.models import Classifier
from support.server import start_server

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]

YAML = """\
backend: torchscript
max_batch_size: 8
inputs: [{name: image, datatype: FP32, shape: [3, 16, 16]}]
outputs: [{name: probabilities, datatype: FP32, shape: [5]}]
instances: [{devices: %s, count: %d}]
warmup: {batch_sizes: [1, 8]}
"""


def export(root, devices, count=1):
    torch.manual_seed(0)
    model_dir = root / "classifier"
    (model_dir / "1").mkdir(parents=True)
    torch.jit.script(Classifier().eval()).save(str(model_dir / "1" / "model.pt"))
    (model_dir / "model.yaml").write_text(YAML % (devices, count))
    return root


@pytest.mark.parametrize("devices", ["gpu", "auto", "[cuda:0]"])
def test_instances_land_on_the_gpu_and_match_pytorch(tmp_path, devices):
    repo = export(tmp_path, devices, count=2)
    s = start_server(repo)
    try:
        assert any("instance(s) on cuda:0, cuda:0" in line for line in s.log), s.log
        image = np.random.default_rng(0).random((8, 3, 16, 16), dtype=np.float32)
        r = s.post_json("/v2/models/classifier/infer",
                        {"inputs": [{"name": "image", "shape": list(image.shape),
                                     "datatype": "FP32", "data": image.flatten().tolist()}]})
        assert r.status == 200, r.body
        got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(8, 5)
        module = torch.jit.load(str(repo / "classifier" / "1" / "model.pt"))
        expected = module(torch.from_numpy(image)).detach().numpy()
        # cuDNN may pick other convolution algorithms than the CPU (summation order, TF32):
        # compare within a tolerance far tighter than any wrong answer could meet.
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    finally:
        assert s.stop() == 0


def test_devices_flag_restricts_to_cpu(tmp_path):
    repo = export(tmp_path, "auto")
    s = start_server(repo, "--devices", "cpu")
    try:
        assert any("instance(s) on cpu" in line for line in s.log), s.log
    finally:
        assert s.stop() == 0


CHAIN = ("inputs: [{name: a, datatype: FP32, shape: [1, 4]}]\n"
         "outputs: [{name: c, datatype: FP32, shape: [1, 4]}]\n"
         "steps:\n"
         "  - {name: one, model: first, inputs: {x: a}, outputs: {y: b}}\n"
         "  - {name: two, model: second, inputs: {x: b}, outputs: {y: c}}\n")


def export_chain(root, first_devices, second_devices):
    """Models `first` (x + 1) and `second` (x + 2) on the given devices, and the pipeline
    `chain` = second(first(a))."""
    from support.models import AddConstant

    step = ("backend: torchscript\nmax_batch_size: 8\n"
            "inputs: [{name: x, datatype: FP32, shape: [4]}]\n"
            "outputs: [{name: y, datatype: FP32, shape: [4]}]\n"
            "instances: [{devices: %s, count: 1}]\n"
            "dynamic_batching: {max_queue_delay_us: 3000}\n")
    for name, constant, devices in (("first", 1.0, first_devices),
                                    ("second", 2.0, second_devices)):
        (root / name / "1").mkdir(parents=True)
        torch.jit.script(AddConstant(constant)).save(str(root / name / "1" / "model.pt"))
        (root / name / "model.yaml").write_text(step % devices)
    (root / "chain").mkdir()
    (root / "chain" / "pipeline.yaml").write_text(CHAIN)
    return root


def call_many(s, calls):
    """Runs (model, offset) calls from 32 threads; each must return its input + offset."""
    from concurrent.futures import ThreadPoolExecutor

    def call(i):
        model, offset = calls[i]
        x = [float(i), 0.5, -1.0, 2.0]
        r = s.post_json(f"/v2/models/{model}/infer",
                        {"inputs": [{"name": "a" if model == "chain" else "x", "shape": [1, 4],
                                     "datatype": "FP32", "data": x}]})
        assert r.status == 200, r.body
        assert r.json()["outputs"][0]["data"] == [v + offset for v in x], (model, x)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(call, range(len(calls))))


def test_pipeline_intermediates_batch_and_stay_on_the_gpu(tmp_path):
    """Two GPU models in a chain under concurrent load, while clients also call the second model
    directly: its batches merge tensors the first step left on the device with host tensors from
    clients, on the device, and split back."""
    s = start_server(export_chain(tmp_path, "gpu", "gpu"))
    try:
        call_many(s, [("chain", 3.0), ("second", 2.0)] * 128)
        (second,) = s.get("/v2/models/second/stats").json()["model_stats"]
        assert second["inference_count"] == 256
        assert second["execution_count"] < 256, second  # some batches merged on the device
        assert second["instances"][0]["device"] == "cuda:0"
    finally:
        assert s.stop() == 0


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_intermediates_cross_to_another_gpu(tmp_path):
    """`first` only on cuda:0 and `second` only on cuda:1: every run hands its intermediate
    from one GPU to the other, and the answers stay right."""
    s = start_server(export_chain(tmp_path, "[cuda:0]", "[cuda:1]"))
    try:
        call_many(s, [("chain", 3.0)] * 256)
        (second,) = s.get("/v2/models/second/stats").json()["model_stats"]
        assert second["instances"][0]["device"] == "cuda:1"
    finally:
        assert s.stop() == 0


def test_cuda_graphs_replay_warm_up_sizes_and_run_others_eagerly(tmp_path):
    """cuda_graphs: true captures batch sizes 1 and 8 at warm-up; batches of those sizes replay
    a graph (fresh data each time: the graph reads copies into its own buffers), batches of 3
    run eagerly; every answer matches PyTorch on the CPU. The instance's counters say so."""
    repo = export(tmp_path, "gpu", count=1)
    yaml = repo / "classifier" / "model.yaml"
    yaml.write_text(yaml.read_text() + "cuda_graphs: true\n")
    module = torch.jit.load(str(repo / "classifier" / "1" / "model.pt"))
    s = start_server(repo, "--strict")

    def graphs():
        (entry,) = s.get("/v2/models/classifier/stats").json()["model_stats"]
        (instance,) = entry["instances"]
        return instance["cuda_graphs_captured"], instance["cuda_graph_replays"]

    try:
        captured, replays = graphs()
        assert captured == 2, "warm-up captures one graph for each of batch sizes 1 and 8"
        rng = np.random.default_rng(1)
        batches = (1, 8, 3, 8, 1, 8)
        for batch in batches:
            image = rng.random((batch, 3, 16, 16), dtype=np.float32)
            r = s.post_json("/v2/models/classifier/infer",
                            {"inputs": [{"name": "image", "shape": list(image.shape),
                                         "datatype": "FP32", "data": image.flatten().tolist()}]})
            assert r.status == 200, r.body
            got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(batch, 5)
            expected = module(torch.from_numpy(image)).detach().numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
        # Each request is its own batch (one at a time): all but the batch of 3 replayed.
        assert graphs() == (2, replays + sum(b != 3 for b in batches))
    finally:
        assert s.stop() == 0
