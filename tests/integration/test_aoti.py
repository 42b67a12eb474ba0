"""`backend: aoti` over HTTP: AOTInductor packages (scripts/export_pt2.py) against eager PyTorch
with the same weights, alone, at a dynamic batch size, batched across concurrent requests, with
free image sizes, and as a step of a pipeline with ops; and the errors a user meets: a batch over
max_batch_size, a corrupt package, a package whose inputs differ from model.yaml.

Tolerance: 1e-5 absolute (Inductor fuses and reorders float math; measured here ≤ 3e-7)."""

import concurrent.futures
import json
import pathlib
import re
import shutil
import subprocess
import time
import zipfile

import numpy as np
import pytest
import torch

from support import models
from support.metrics import scrape, value
from support.server import start_server, tandem_binary
from support.v2 import InferError, infer

TOLERANCE = 1e-5

PIPELINE = """\
inputs: [{name: pixels, datatype: UINT8, shape: [-1, 3, 16, 16]}]
outputs: [{name: best, datatype: INT64, shape: [-1]}]
steps:
  - {name: scale, op: cast, inputs: {input: pixels}, outputs: {output: image},
     params: {dtype: FP32, scale: 1/255}}
  - {name: classify, model: classifier, inputs: {image: image},
     outputs: {probabilities: probabilities}}
  - {name: pick, op: argmax, inputs: {input: probabilities}, outputs: {indices: best}}
"""


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    root = models.aoti_repository(tmp_path_factory.mktemp("aoti"))
    (root / "classify").mkdir()
    (root / "classify" / "pipeline.yaml").write_text(PIPELINE)
    return root


@pytest.fixture(scope="module")
def server(repository):
    s = start_server(repository)
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def eager(module_class, *inputs):
    torch.manual_seed(0)
    module = module_class().eval()
    with torch.no_grad():
        return module(*[torch.from_numpy(x) for x in inputs])


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_classifier_equals_eager(server, batch):
    image = np.random.default_rng(batch).random((batch, 3, 16, 16), dtype=np.float32)
    out = infer(server, "classifier", {"image": image})["probabilities"]
    np.testing.assert_allclose(out, eager(models.Classifier, image).numpy(), atol=TOLERANCE)


def test_concurrent_requests_are_batched_and_each_gets_its_rows(server):
    rng = np.random.default_rng(7)
    images = [rng.random((1 + i % 2, 3, 16, 16), dtype=np.float32) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda x: infer(server, "classifier", {"image": x}), images))
    for image, out in zip(images, outs):
        np.testing.assert_allclose(out["probabilities"], eager(models.Classifier, image).numpy(),
                                   atol=TOLERANCE)
    stats = server.get("/v2/models/classifier/stats").json()["model_stats"][0]
    assert stats["execution_count"] < stats["inference_count"], stats


@pytest.mark.parametrize("height,width", [(24, 20), (7, 33), (64, 48)])
def test_free_dimensions_serve_every_size(server, height, width):
    x = np.random.default_rng(height).random((2, 1, height, width), dtype=np.float32)
    out = infer(server, "smoother", {"x": x})
    smooth, mean = eager(models.Smoother, x)
    np.testing.assert_allclose(out["smooth"], smooth.numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(out["mean"], mean.numpy(), atol=TOLERANCE)


def test_a_pipeline_step(server):
    pixels = np.random.default_rng(3).integers(0, 256, (4, 3, 16, 16), dtype=np.uint8)
    out = infer(server, "classify", {"pixels": pixels})["best"]
    expected = eager(models.Classifier, pixels.astype(np.float32) / 255).argmax(dim=1).numpy()
    np.testing.assert_array_equal(out, expected)


def test_the_packages_weights_are_counted_on_their_device(server):
    """The constants the compiled models hold: about the classifier's and the smoother's
    parameters (Inductor may keep a weight in another layout, or fold a tiny one into its code:
    here 56 of 11 196 bytes are not constants)."""
    parameters = sum(p.numel() * 4 for cls in (models.Classifier, models.Smoother)
                     for p in cls().parameters())
    m = scrape(server)
    assert value(m, "tandem_device_loaded_models", device="cpu") == 2
    held = value(m, "tandem_device_loaded_model_bytes", device="cpu")
    assert 0.99 * parameters <= held <= 2 * parameters, (held, parameters)


def test_metadata_names_the_platform(server):
    doc = server.get("/v2/models/classifier").json()
    assert doc["platform"] == "torch_aoti"
    assert doc["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 16, 16]}]


def test_a_batch_over_max_batch_size_is_a_400_naming_the_model(server):
    image = np.zeros((9, 3, 16, 16), np.float32)
    with pytest.raises(InferError) as error:
        infer(server, "classifier", {"image": image})
    assert error.value.status == 400
    assert "classifier" in error.value.message and "8" in error.value.message


def with_metadata(package: pathlib.Path, **changes: str) -> None:
    """Rewrites the package's recorded metadata (what it says it was compiled for)."""
    entries = {}
    with zipfile.ZipFile(package) as z:
        for name in z.namelist():
            data = z.read(name)
            if name.endswith("_metadata.json"):
                data = json.dumps({**json.loads(data), **changes}).encode()
            entries[name] = data
    with zipfile.ZipFile(package, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def cpu_flags() -> set:
    text = pathlib.Path("/proc/cpuinfo").read_text()
    return set(text.split("flags", 1)[1].split("\n", 1)[0].split(":", 1)[1].split())


def test_a_package_for_another_device_kind_is_refused_with_the_reason(repository, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(repository / "classifier", root / "for_cuda")
    with_metadata(root / "for_cuda" / "1" / "model.pt2", AOTI_DEVICE_KEY="cuda")
    expected = ["for_cuda/1/model.pt2: the package was compiled for cuda, not cpu"]
    if "avx512f" not in cpu_flags():
        shutil.copytree(repository / "classifier", root / "for_avx512")
        with_metadata(root / "for_avx512" / "1" / "model.pt2",
                      AOTI_CPU_ISA="AVX512 AVX512_VNNI")
        expected.append("for_avx512/1/model.pt2: the package was compiled for CPUs with "
                        "AVX512 AVX512_VNNI and this CPU lacks AVX512")
    check = subprocess.run([tandem_binary(), "check", str(root)], capture_output=True, text=True)
    assert check.returncode == 1
    for line in expected:
        assert line in check.stdout, check.stdout


def test_broken_packages_are_named_and_the_rest_serves(repository, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(repository / "classifier", root / "classifier")
    # A corrupt package: its bytes cut in half.
    shutil.copytree(repository / "classifier", root / "corrupt")
    package = root / "corrupt" / "1" / "model.pt2"
    package.write_bytes(package.read_bytes()[: package.stat().st_size // 2])
    # A package whose model.yaml declares another input.
    shutil.copytree(repository / "smoother", root / "mismatched")
    yaml = root / "mismatched" / "model.yaml"
    yaml.write_text(yaml.read_text().replace("{name: x, datatype: FP32, shape: [1, -1, -1]}",
                                             "{name: x, datatype: FP32, shape: [3, -1, -1]}")
                    .replace("shapes: {x: [1, 24, 20]}", "shapes: {x: [3, 24, 20]}"))
    # A model.yaml with an input more than the package takes.
    shutil.copytree(repository / "classifier", root / "two_inputs")
    yaml = root / "two_inputs" / "model.yaml"
    yaml.write_text(yaml.read_text().replace(
        "  - {name: image, datatype: FP32, shape: [3, 16, 16]}\n",
        "  - {name: image, datatype: FP32, shape: [3, 16, 16]}\n"
        "  - {name: mask, datatype: FP32, shape: [16, 16]}\n"))
    check = subprocess.run([tandem_binary(), "check", str(root)], capture_output=True, text=True)
    assert check.returncode == 1, check.stdout
    lines = check.stdout.splitlines()
    assert any("corrupt/1" in line and "model.pt2" in line for line in lines), check.stdout
    assert any("mismatched/1" in line and "failed on inputs FP32 [1, 3, 24, 20]" in line
               for line in lines), check.stdout
    assert any("two_inputs/1" in line and "takes 1 input(s) but model.yaml declares 2" in line
               for line in lines), check.stdout
    assert not any("classifier" in line for line in lines[:-1]), check.stdout

    s = start_server(root, wait_ready=False)  # never ready: three models cannot load
    try:
        deadline = time.monotonic() + 60
        while s.get("/v2/models/classifier/ready").status != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        image = np.zeros((1, 3, 16, 16), np.float32)
        out = infer(s, "classifier", {"image": image})["probabilities"]
        np.testing.assert_allclose(out, eager(models.Classifier, image).numpy(), atol=TOLERANCE)
        for name in ("corrupt", "mismatched", "two_inputs"):
            r = s.get(f"/v2/models/{name}/ready")
            assert r.status != 200, name
    finally:
        s.stop()


def test_a_cpu_package_fixes_the_threads_of_its_fused_kernels_at_export():
    """OMP_NUM_THREADS at serve time does not change them: export_pt2's `threads` does."""
    def kernel_threads(name):
        with zipfile.ZipFile(models.aoti_packages() / name / "1" / "model.pt2") as package:
            code = "".join(package.read(f).decode() for f in package.namelist()
                           if f.endswith(".cpp"))
        return set(re.findall(r"omp parallel num_threads\((\d+)\)", code))

    assert kernel_threads("classifier") == {str(torch.get_num_threads())}
    assert kernel_threads(models.AOTI_THREADS_MODEL) == {str(torch.get_num_threads() + 1)}
