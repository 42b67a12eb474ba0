"""The remove_background steps in Python, shared by the in-process limit and the contenders that
batch (TorchServe's batching handler, Ray Serve): the same operations Tandem's pipeline.yaml runs,
on the same TorchScript models.

SIZE is the segmenter's input side in this benchmark. The example serves 320×320; the CPU
benchmark uses 160×160 for every contender alike, so that a 2-core machine gets through the whole
sweep in its time budget (about 0.22 s of segmenter a image instead of 1.2 s). The GPU benchmark
sets TANDEM_BENCH_SEGMENTER_SIZE=320.
"""

from __future__ import annotations

import io
import os
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SIZE = int(os.environ.get("TANDEM_BENCH_SEGMENTER_SIZE", "160"))
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
LEVELS = torch.tensor([0, 128, 255], dtype=torch.uint8)


def load_models(model_dir: pathlib.Path) -> tuple[torch.jit.ScriptModule, torch.jit.ScriptModule]:
    """The segmenter and matting TorchScript files of `model_dir` (segmenter.pt, matting.pt)."""
    return (torch.jit.load(str(model_dir / "segmenter.pt")),
            torch.jit.load(str(model_dir / "matting.pt")))


def decode(encoded: bytes) -> np.ndarray:
    """JPEG or PNG bytes to RGB [H, W, 3] UINT8."""
    return np.array(Image.open(io.BytesIO(encoded)).convert("RGB"))


def preprocess(rgbs: list[np.ndarray]) -> torch.Tensor:
    """Images of any sizes to one normalised [N, 3, SIZE, SIZE] batch."""
    resized = [F.interpolate(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float() / 255,
                             size=(SIZE, SIZE), mode="bilinear", align_corners=False)
               for rgb in rgbs]
    return (torch.cat(resized) - MEAN) / STD


def trimaps(logits: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Segmenter logits [N, 3, SIZE, SIZE] to one [1, H, W] UINT8 trimap an image, at its size."""
    levels = LEVELS[logits.argmax(dim=1)]
    return [F.interpolate(levels[i:i + 1].unsqueeze(1).float(), size=size,
                          mode="nearest").to(torch.uint8)[0]
            for i, size in enumerate(sizes)]


def encode_png(alpha: torch.Tensor) -> bytes:
    """Alpha [1, 1, H, W] in [0, 1] to an 8-bit greyscale PNG."""
    png = io.BytesIO()
    Image.fromarray((alpha.clamp(0, 1) * 255).to(torch.uint8)[0, 0].numpy()).save(png, "PNG")
    return png.getvalue()


def remove_background(segmenter, matting, images: list[bytes]) -> list[bytes]:
    """The whole pipeline for a batch of encoded images: one segmenter call for all of them, then
    trimap, matting and PNG an image."""
    rgbs = [decode(image) for image in images]
    with torch.inference_mode():
        logits = segmenter(preprocess(rgbs))[0]
        return [encode_png(matting(torch.from_numpy(rgb), trimap))
                for rgb, trimap in zip(rgbs, trimaps(logits, [r.shape[:2] for r in rgbs]))]
