"""The remove_background example over HTTP equals its user's Python handler (PIL and
torchvision, examples/remove_background/handler.py) on the same TorchScript files, bit for bit,
for JPEG and PNG inputs of odd sizes."""

import io
import pathlib
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from support.server import start_server

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLE / "remove_background"))
import handler  # noqa: E402
from models import Matting, Segmenter  # noqa: E402


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example's checked-in configs, with models exported by real PyTorch."""
    repo = tmp_path_factory.mktemp("remove_background")
    for name in ("segmenter", "matting", "remove_background"):
        shutil.copytree(EXAMPLE / "repository" / name, repo / name,
                        ignore=shutil.ignore_patterns("[0-9]*"))
    torch.manual_seed(0)
    for name, module in (("segmenter", Segmenter()), ("matting", Matting())):
        (repo / name / "1").mkdir()
        torch.jit.script(module.eval()).save(str(repo / name / "1" / "model.pt"))
    server = start_server(repo, "--default-model", "remove_background")
    yield repo, server
    assert server.stop() == 0, "\n".join(server.log)


def handler_png(repo, encoded):
    """The user's handler (PIL, torchvision) on the same TorchScript files."""
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
    repo, server = example
    encoded = photo(*size, fmt)
    r = server.post("/invocations", encoded,
                    headers={"Content-Type": f"image/{fmt.lower()}", "Accept": "image/png"})
    assert r.status == 200, r.body
    got = np.array(Image.open(io.BytesIO(r.body)))
    expected = np.array(Image.open(io.BytesIO(handler_png(repo, encoded))))
    assert got.shape == expected.shape == (size[1], size[0])
    # A constant matte would match trivially: the reference has background (0), foreground
    # (255) and the net's values in the unsure band between.
    assert (expected == 0).any() and (expected == 255).any()
    assert ((expected > 0) & (expected < 255)).sum() > 20
    np.testing.assert_array_equal(got, expected)
