"""The remove_background example over HTTP equals its user's Python handler (PIL and
torchvision, examples/remove_background/handler.py) on the same model files, bit for bit, for
JPEG and PNG inputs of odd sizes: with the models as the AOTInductor packages the example serves
(examples/remove_background/export.py compiles them once and caches them) and as TorchScript."""

import io
import pathlib
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from support.server import start_server

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLE / "remove_background"))
import export as example_export  # noqa: E402
import handler  # noqa: E402


@pytest.fixture(scope="module", params=["aoti", "torchscript"])
def example(request, tmp_path_factory):
    """The example's checked-in configs, its models served by the backend the test is for."""
    backend = request.param
    repo = tmp_path_factory.mktemp(f"remove_background-{backend}")
    for name in ("segmenter", "matting", "remove_background"):
        shutil.copytree(EXAMPLE / "repository" / name, repo / name,
                        ignore=shutil.ignore_patterns("[0-9]*"))
    packages = example_export.compiled("cpu") if backend == "aoti" else None
    for name, module in example_export.modules().items():
        version = repo / name / "1"
        version.mkdir()
        if packages:
            shutil.copy(packages / name / "1" / "model.pt2", version / "model.pt2")
        else:
            torch.jit.script(module).save(str(version / "model.pt"))
        config = repo / name / "model.yaml"
        config.write_text(re.sub(r"^backend: \w+", f"backend: {backend}", config.read_text(),
                                 flags=re.M))
    server = start_server(repo, "--default-model", "remove_background")
    yield repo, backend, server
    assert server.stop() == 0, "\n".join(server.log)


def handler_png(repo, backend, encoded):
    """The user's handler (PIL, torchvision) on the same model files."""
    if backend == "aoti":
        segmenter, matting = (torch._inductor.aoti_load_package(
            str(repo / name / "1" / "model.pt2")) for name in ("segmenter", "matting"))
        return handler.remove_background(segmenter, matting, encoded)
    segmenter = torch.jit.load(str(repo / "segmenter" / "1" / "model.pt"))
    matting = torch.jit.load(str(repo / "matting" / "1" / "model.pt"))
    return handler.remove_background(segmenter, matting, encoded)


def photo(width, height, fmt):
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, ((x // 7) % 2) * 120], -1)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2
    rgb[disc] = [230, 190, 50]
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format=fmt, quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,size", [("JPEG", (97, 61)), ("PNG", (64, 45)), ("PNG", (641, 479))])
def test_alpha_equals_the_python_handler(example, fmt, size):
    repo, backend, server = example
    encoded = photo(*size, fmt)
    r = server.post("/invocations", encoded,
                    headers={"Content-Type": f"image/{fmt.lower()}", "Accept": "image/png"})
    assert r.status == 200, r.body
    got = np.array(Image.open(io.BytesIO(r.body)))
    expected = np.array(Image.open(io.BytesIO(handler_png(repo, backend, encoded))))
    assert got.shape == expected.shape == (size[1], size[0])
    # A constant matte would match trivially: the reference has background (0), foreground
    # (255) and the net's values in the unsure band between.
    assert (expected == 0).any() and (expected == 255).any()
    assert ((expected > 0) & (expected < 255)).sum() > 20
    np.testing.assert_array_equal(got, expected)
