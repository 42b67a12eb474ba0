"""The resampling test table, run on each device kind: Tandem's image ops against Pillow itself.

Each pipeline passes its image through an identity model on the device under test, so the op
after it runs there (a pipeline's ops run where its models do).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from PIL import Image

from support import v2
from support.server import start_server

MODES = {"nearest": Image.NEAREST, "box": Image.BOX, "bilinear": Image.BILINEAR,
         "hamming": Image.HAMMING, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}

# (in height, in width) -> (out height, out width): up, down, both, one axis only, odd and even,
# 1-pixel edges, and a shrink far past the filter's support.
FIXED_SIZES = [((1, 1), (5, 3)), ((64, 48), (32, 24)), ((7, 13), (7, 26)), ((13, 7), (40, 7)),
               ((300, 200), (3, 2)), ((2, 3), (1, 1)), ((479, 641), (320, 320))]


# A shrink whose taps are too many to gather at once (the 8-bit pass then sums tap by tap).
LARGE_SHRINK = [((1500, 2200), (15, 22))]


def size_pairs(count: int, seed: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    random = [((int(a), int(b)), (int(c), int(d)))
              for a, b, c, d in rng.integers(1, 90, size=(count, 4))]
    return FIXED_SIZES + random


class Identity(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


RESIZE_PIPELINE = """\
inputs:
  - {name: image, datatype: %(dtype)s, shape: [1, -1, -1, -1]}
  - {name: like, datatype: UINT8, shape: [-1, -1, -1]}
outputs: [{name: out, datatype: %(dtype)s, shape: [1, -1, -1, -1]}]
steps:
  - {name: to_device, model: pass_%(dtype)s, inputs: {x: image}, outputs: {y: on_device}}
  - {name: resize, op: image.resize_to, inputs: {image: on_device, like: like},
     outputs: {image: out}, params: {mode: %(mode)s}}
"""

PREPROCESS_PIPELINE = """\
inputs: [{name: rgb, datatype: UINT8, shape: [-1, -1, 3]}]
outputs: [{name: tensor, datatype: FP32, shape: [1, 3, -1, -1]}]
steps:
  - {name: to_device, model: pass_rgb, inputs: {x: rgb}, outputs: {y: on_device}}
  - {name: prep, op: image.preprocess, inputs: {image: on_device}, outputs: {tensor: tensor},
     params: {%(params)s}}
"""

PREPROCESS_CASES = {
    "resize_bilinear": {"size": [23, 37], "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225]},
    "resize_bicubic": {"size": [41, 19], "resample": "bicubic", "mean": [0.5, 0.4, 0.3],
                       "std": [0.2, 0.3, 0.25]},
    "own_size_bgr": {"channel_order": "bgr", "mean": [0.1, 0.2, 0.3], "std": [0.5, 0.5, 0.5]},
}


def start_resampling_server(root: pathlib.Path, devices: str):
    """A repository of resize and preprocess pipelines whose ops run on `devices` (cpu, gpu)."""
    for name, dtype, shape in (("pass_UINT8", "UINT8", "[1, -1, -1, -1]"),
                               ("pass_FP32", "FP32", "[1, -1, -1, -1]"),
                               ("pass_rgb", "UINT8", "[-1, -1, 3]")):
        (root / name / "1").mkdir(parents=True)
        torch.jit.script(Identity()).save(str(root / name / "1" / "model.pt"))
        (root / name / "model.yaml").write_text(
            f"backend: torchscript\nmax_batch_size: 0\n"
            f"inputs: [{{name: x, datatype: {dtype}, shape: {shape}}}]\n"
            f"outputs: [{{name: y, datatype: {dtype}, shape: {shape}}}]\n"
            f"instances: [{{devices: {devices}, count: 1}}]\n")
    for mode in MODES:
        for dtype in ("UINT8", "FP32"):
            folder = root / f"resize_{mode}_{dtype}"
            folder.mkdir()
            (folder / "pipeline.yaml").write_text(RESIZE_PIPELINE % {"dtype": dtype, "mode": mode})
    for name, params in PREPROCESS_CASES.items():
        (root / f"prep_{name}").mkdir()
        # A JSON object is a YAML flow map.
        (root / f"prep_{name}" / "pipeline.yaml").write_text(
            PREPROCESS_PIPELINE % {"params": json.dumps(params)[1:-1]})
    return start_server(root)


def pillow_resize(image: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """[C, H, W] resized channel by channel as Pillow resizes an L (uint8) or F (float) image."""
    return np.stack([np.asarray(Image.fromarray(channel).resize((size[1], size[0]), MODES[mode]))
                     for channel in image])


def pillow_preprocess(rgb: np.ndarray, p: dict) -> np.ndarray:
    """What the user's handler computes: PIL resize, then torchvision's ToTensor and Normalize
    (to_tensor: uint8 -> float32, then .div(255); normalize: .sub(mean).div(std) in float32)."""
    image = Image.fromarray(rgb)
    if "size" in p:
        image = image.resize((p["size"][1], p["size"][0]), MODES[p.get("resample", "bilinear")])
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
    if p.get("channel_order") == "bgr":
        x = x.flip(0)
    mean = torch.tensor(p["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(p["std"], dtype=torch.float32).view(3, 1, 1)
    return x.sub(mean).div(std).unsqueeze(0).numpy()


def random_image(rng, shape, dtype):
    if dtype == "UINT8":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return (rng.random(shape, dtype=np.float32) * 300 - 20).astype(np.float32)


def check_resize(server, mode: str, dtype: str, pairs) -> None:
    """Every size pair through resize_<mode>_<dtype> equals Pillow's result, bit for bit."""
    rng = np.random.default_rng(sum(map(ord, mode + dtype)))
    for (h, w), (oh, ow) in pairs:
        image = random_image(rng, (1, 2, h, w), dtype)
        got = v2.infer(server, f"resize_{mode}_{dtype}",
                       {"image": image, "like": np.zeros((oh, ow, 1), np.uint8)})["out"]
        expected = pillow_resize(image[0], (oh, ow), mode)[None]
        assert got.shape == expected.shape, ((h, w), (oh, ow))
        mismatched = int((got != expected).sum())
        assert mismatched == 0, f"{mode} {dtype} {(h, w)} -> {(oh, ow)}: {mismatched} values differ"


def check_preprocess(server, name: str, pairs) -> None:
    rng = np.random.default_rng(7)
    for (h, w), _ in pairs:
        rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        got = v2.infer(server, f"prep_{name}", {"rgb": rgb})["tensor"]
        expected = pillow_preprocess(rgb, PREPROCESS_CASES[name])
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), f"{name} {(h, w)}: max {np.abs(got - expected).max()}"
