"""The remove_background pipeline's pre- and post-processing as two TorchScript "glue" models,
the way a Tandem user would write them without the built-in ops: Pillow's resampling written
out with torch ops (vectorised, no Python loops at serving time), then ToTensor and Normalize.

  SegmenterInput: rgb UINT8 [H, W, 3] -> x FP32 [1, 3, S, S]   (Resize((S, S)), ToTensor,
                                                                Normalize)
  MattingInput:   rgb UINT8 [H, W, 3], logits FP32 [1, 3, S, S] -> x FP32 [1, 4, H, W]
                  (argmax, levels {1: 128, 2: 255}, the trimap back to H × W with BICUBIC, the
                  normalised image and the trimap ÷ 255)

They compute what examples/remove_background/handler.py computes, bit for bit: bench-pipeline
checks each contender's PNG against Tandem's before measuring it.
"""

from __future__ import annotations

import math
import pathlib
from typing import List, Tuple

import torch
from torch import nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _filter(x: torch.Tensor, bicubic: bool) -> torch.Tensor:
    """Pillow's bilinear (support 1) or bicubic (a = -0.5, support 2) filter, in float64."""
    x = x.abs()
    if not bicubic:
        return torch.where(x < 1.0, 1.0 - x, torch.zeros_like(x))
    a = -0.5
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, torch.zeros_like(x)))


def _taps(in_size: int, out_size: int, bicubic: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """For each output pixel, the input indices it reads and their fixed-point weights (zero
    beyond its own taps): Pillow's precompute_coeffs and normalize_coeffs_8bpc, with its
    fixed point for 8-bit images (22 fraction bits)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = (2.0 if bicubic else 1.0) * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    center = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    xmin = torch.clamp((center - support + 0.5).trunc(), min=0.0)
    xmax = torch.clamp((center + support + 0.5).trunc(), max=float(in_size)) - xmin
    k = torch.arange(ksize, dtype=torch.float64)
    weights = _filter((k[None, :] + xmin[:, None] - center[:, None] + 0.5) * (1.0 / filterscale),
                      bicubic)
    weights = torch.where(k[None, :] < xmax[:, None], weights, torch.zeros_like(weights))
    # Summed tap by tap, in Pillow's order, so that the normalised weights round alike.
    total = torch.zeros_like(center)
    for j in range(ksize):
        total = total + weights[:, j]
    total = total[:, None]
    weights = torch.where(total != 0.0, weights / total, weights)
    scaled = weights * float(1 << 22)
    fixed = torch.where(scaled < 0.0, (scaled - 0.5).trunc(), (scaled + 0.5).trunc())
    index = torch.clamp(xmin[:, None] + k[None, :], max=float(in_size - 1)).to(torch.int64)
    return index, fixed.to(torch.int64)


def _pass(image: torch.Tensor, dim: int, out_size: int, bicubic: bool) -> torch.Tensor:
    """One separable pass of a uint8 image (as int64) along `dim`, rounded and clipped to 8 bits
    as Pillow does after each pass."""
    index, weights = _taps(image.shape[dim], out_size, bicubic)
    moved = image.movedim(dim, -1)
    gathered = torch.index_select(moved, -1, index.flatten())
    gathered = gathered.reshape(list(moved.shape[:-1]) + list(index.shape))
    total = (gathered * weights).sum(dim=-1) + (1 << 21)
    return torch.clamp(torch.bitwise_right_shift(total, 22), 0, 255).movedim(-1, dim)


def pillow_resize(image: torch.Tensor, height: int, width: int, bicubic: bool) -> torch.Tensor:
    """UINT8 [H, W] or [H, W, C] -> [height, width(, C)] exactly as Pillow's Image.resize:
    the horizontal pass first, each pass only where the size changes."""
    x = image.to(torch.int64)
    if x.shape[1] != width:
        x = _pass(x, 1, width, bicubic)
    if x.shape[0] != height:
        x = _pass(x, 0, height, bicubic)
    return x.to(torch.uint8)


def _normalise(rgb: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """UINT8 [H, W, 3] -> FP32 [3, H, W] as ToTensor then Normalize compute it."""
    return (rgb.permute(2, 0, 1).to(torch.float32).div(255) - mean) / std


class SegmenterInput(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(MEAN).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        small = pillow_resize(rgb, self.size, self.size, bicubic=False)
        return _normalise(small, self.mean, self.std).unsqueeze(0)


class MattingInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(3, 1, 1))
        self.register_buffer("levels", torch.tensor([0, 128, 255], dtype=torch.uint8))

    def forward(self, rgb: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        small = self.levels[logits.argmax(dim=1)[0]]
        trimap = pillow_resize(small, rgb.shape[0], rgb.shape[1], bicubic=True)
        planes: List[torch.Tensor] = [_normalise(rgb, self.mean, self.std),
                                      trimap.to(torch.float32).div(255).unsqueeze(0)]
        return torch.cat(planes).unsqueeze(0)


# remove_background with its pre- and post-processing in the two glue models instead of the
# built-in ops: what a user wrote before those ops existed.
GLUE_PIPELINE = """\
placement: affinity
inputs: [{name: image_bytes, datatype: BYTES, shape: [1]}]
outputs: [{name: alpha_png, datatype: BYTES, shape: [1]}]
steps:
  - {name: decode, op: image.decode, inputs: {bytes: image_bytes}, outputs: {image: rgb}}
  - {name: prep, model: segmenter_input, inputs: {rgb: rgb}, outputs: {x: x}}
  - {name: segment, model: segmenter, inputs: {image: x}, outputs: {d0: logits}}
  - {name: join, model: matting_input, inputs: {rgb: rgb, logits: logits},
     outputs: {x: matting_input}}
  - {name: matte, model: matting, inputs: {x: matting_input}, outputs: {alpha: alpha}}
  - {name: encode, op: image.encode_png, inputs: {image: alpha}, outputs: {png: alpha_png}}
"""
GLUE_MODEL = """\
backend: torchscript
max_batch_size: 0
inputs: {inputs}
outputs: [{{name: x, datatype: FP32, shape: {output}}}]
instances: [{{devices: auto, count: 1}}]
warmup: {{shapes: {{{warmup}}}}}
"""


def install(repository: pathlib.Path, size: int) -> None:
    """Replaces the pre- and post-processing of the example pipeline in `repository` (a copy)
    with the glue models, the segmenter at `size`×`size`."""
    rgb = "{name: rgb, datatype: UINT8, shape: [-1, -1, 3]}"
    for name, inputs, output, warmup in (
            ("segmenter_input", f"[{rgb}]", f"[1, 3, {size}, {size}]", "rgb: [480, 640, 3]"),
            ("matting_input",
             f"[{rgb}, {{name: logits, datatype: FP32, shape: [1, 3, {size}, {size}]}}]",
             "[1, 4, -1, -1]", f"rgb: [480, 640, 3], logits: [1, 3, {size}, {size}]")):
        (repository / name).mkdir()
        (repository / name / "model.yaml").write_text(
            GLUE_MODEL.format(inputs=inputs, output=output, warmup=warmup))
    _save(repository, size)
    (repository / "remove_background" / "pipeline.yaml").write_text(GLUE_PIPELINE)


def _save(repository: pathlib.Path, size: int) -> None:
    """segmenter_input/1/model.pt and matting_input/1/model.pt (TorchScript) in `repository`."""
    for name, module in (("segmenter_input", SegmenterInput(size)),
                         ("matting_input", MattingInput())):
        (repository / name / "1").mkdir(parents=True, exist_ok=True)
        torch.jit.script(module).save(str(repository / name / "1" / "model.pt"))
