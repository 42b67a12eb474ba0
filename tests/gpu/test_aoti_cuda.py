"""AOTInductor packages exported on the GPU and served on cuda:0: a test model against eager
PyTorch on the same card, a CPU package refused there, and the remove_background example with
its CUDA packages against its user's handler.

Runs only where LibTorch sees a GPU (pytest marker `gpu`); skipped elsewhere. Exporting compiles
on this machine (cached in ~/.cache/tandem, like every package the tests make).
"""

import io
import pathlib
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from support.models import Classifier, aoti_repository
from support.server import start_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "examples" / "remove_background"))
from export_pt2 import cached_export, export_pt2  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


def _export_cuda_classifier(folder: pathlib.Path) -> None:
    torch.manual_seed(0)
    export_pt2(Classifier().cuda(), {"image": torch.rand(3, 16, 16, device="cuda")}, folder,
               "classifier", max_batch_size=8, output_names=["probabilities"],
               extra_yaml="instances: [{devices: [cuda:0], count: 2}]\n"
                          "warmup: {batch_sizes: [1, 8]}\n")


def infer(s, image):
    return s.post_json("/v2/models/classifier/infer",
                       {"inputs": [{"name": "image", "shape": list(image.shape),
                                    "datatype": "FP32", "data": image.flatten().tolist()}]})


def test_a_cuda_package_serves_on_cuda_0_and_matches_eager(tmp_path):
    cache = cached_export("aoti-tests-cuda", [pathlib.Path(__file__).resolve()],
                          _export_cuda_classifier, device="cuda")
    shutil.copytree(cache / "classifier", tmp_path / "classifier")
    s = start_server(tmp_path)
    try:
        assert any("instance(s) on cuda:0, cuda:0" in line for line in s.log), s.log
        torch.manual_seed(0)
        eager = Classifier().eval().cuda()
        for batch in (1, 5, 8):
            image = np.random.default_rng(batch).random((batch, 3, 16, 16), dtype=np.float32)
            r = infer(s, image)
            assert r.status == 200, r.body
            got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(batch, 5)
            with torch.inference_mode():
                expected = eager(torch.from_numpy(image).cuda()).cpu().numpy()
            # Inductor's fused kernels and cuDNN's algorithms sum in other orders than eager.
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
        r = infer(s, np.zeros((9, 3, 16, 16), np.float32))
        assert r.status == 400 and "max_batch_size" in r.body.decode(), r.body
    finally:
        assert s.stop() == 0


def test_a_cpu_package_is_refused_on_cuda_with_the_reason(tmp_path):
    repo = aoti_repository(tmp_path)
    config = repo / "classifier" / "model.yaml"
    config.write_text(config.read_text().replace("devices: cpu", "devices: [cuda:0]"))
    s = start_server(repo)
    try:
        r = s.get("/v2/models/classifier/ready")
        assert r.status != 200
        assert any("compiled for cpu" in line for line in s.log), s.log
    finally:
        s.stop()


def test_the_example_on_cuda_packages_agrees_with_the_handler(tmp_path):
    import export as example_export
    import handler

    packages = example_export.compiled("cuda")
    for name in ("segmenter", "matting", "remove_background"):
        shutil.copytree(ROOT / "examples" / "repository" / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("[0-9]*"))
    for name in ("segmenter", "matting"):
        shutil.copytree(packages / name / "1", tmp_path / name / "1")
    s = start_server(tmp_path, "--default-model", "remove_background")
    try:
        example_export.sample_image(tmp_path / "sample.jpg")
        encoded = (tmp_path / "sample.jpg").read_bytes()
        r = s.post("/invocations", encoded,
                   headers={"Content-Type": "image/jpeg", "Accept": "image/png"})
        assert r.status == 200, r.body
        got = np.asarray(Image.open(io.BytesIO(r.body)), np.int16)
        nets = example_export.modules()
        with torch.inference_mode():
            expected_png = handler.remove_background(nets["segmenter"], nets["matting"], encoded)
        expected = np.asarray(Image.open(io.BytesIO(expected_png)), np.int16)
        assert got.shape == expected.shape
        # The CPU handler and the card's fused kernels differ by float rounding, which can flip
        # a few trimap pixels near a class boundary: nearly every pixel lands within 2 levels.
        assert np.mean(np.abs(got - expected) <= 2) > 0.99
        (seg,) = s.get("/v2/models/segmenter/stats").json()["model_stats"]
        assert seg["instances"][0]["device"].startswith("cuda"), seg
    finally:
        assert s.stop() == 0
