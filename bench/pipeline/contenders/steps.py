"""The remove_background steps in Python, shared by the in-process limit and the contenders that
batch (TorchServe's batching handler, Ray Serve): the example's handler.py (what Tandem's
pipeline.yaml computes, to the bit) with the segmenter called once for a batch of images.

SIZE is the segmenter's input side in this benchmark. The example serves 320×320; the CPU
benchmark uses 160×160 for every contender alike, so that a 2-core machine gets through the whole
sweep in its time budget (about 0.22 s of segmenter a image instead of 1.2 s). The GPU benchmark
sets TANDEM_BENCH_SEGMENTER_SIZE=320.
"""

from __future__ import annotations

import os
import pathlib
import sys

import torch

# The example's handler: beside this file where a contender copies both, else in the example.
_EXAMPLE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "remove_background"
if _EXAMPLE.is_dir():
    sys.path.append(str(_EXAMPLE))
import handler  # noqa: E402

SIZE = int(os.environ.get("TANDEM_BENCH_SEGMENTER_SIZE", "160"))

decode = handler.decode
encode_png = handler.encode_png


def load_models(model_dir: pathlib.Path) -> tuple[torch.jit.ScriptModule, torch.jit.ScriptModule]:
    """The segmenter and matting TorchScript files of `model_dir` (segmenter.pt, matting.pt)."""
    return (torch.jit.load(str(model_dir / "segmenter.pt")),
            torch.jit.load(str(model_dir / "matting.pt")))


def preprocess(images: list) -> torch.Tensor:
    """PIL images of any sizes to one normalised [N, 3, SIZE, SIZE] batch."""
    return torch.cat([handler.segmenter_input(image, SIZE) for image in images])


def matting_inputs(logits: torch.Tensor, images: list) -> list[torch.Tensor]:
    """Segmenter logits [N, 3, SIZE, SIZE] to one [1, 4, H, W] matting input an image."""
    return [handler.matting_input(image, handler.trimap(logits[i:i + 1], image.size))
            for i, image in enumerate(images)]


def remove_background(segmenter, matting, encoded: list[bytes]) -> list[bytes]:
    """The whole pipeline for a batch of encoded images: one segmenter call for all of them, then
    trimap, matting and PNG an image."""
    images = [decode(e) for e in encoded]
    with torch.inference_mode():
        logits = segmenter(preprocess(images))[0]
        return [encode_png(matting(x)) for x in matting_inputs(logits, images)]
