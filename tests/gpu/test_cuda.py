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
