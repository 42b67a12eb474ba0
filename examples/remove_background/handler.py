"""The remove_background handler as its users write it in Python: PIL decode,
`torchvision.transforms` (Resize on the PIL image, ToTensor, Normalize), segmenter, argmax,
trimap levels {1: 128, 2: 255}, the trimap resized back with PIL's BICUBIC, a 4-channel
matting input (the normalised image and the trimap ÷255), matting, PNG.

Tandem's remove_background pipeline (../repository/remove_background/pipeline.yaml) computes
exactly this with built-in ops; the example's test holds the two to the same bits, and the
benchmarks run this file as the handler Tandem is compared with.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
LEVELS = np.array([0, 128, 255], dtype=np.uint8)  # background, unsure, foreground

normalise = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def decode(encoded: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(encoded))
    image.load()  # a truncated file fails here, not later
    return image.convert("RGB")


def segmenter_input(image: Image.Image, size: int = 320) -> torch.Tensor:
    """[1, 3, size, size]: Resize((size, size)) on the PIL image (antialiased bilinear), then
    ToTensor and Normalize."""
    return normalise(transforms.Resize((size, size))(image)).unsqueeze(0)


def trimap(logits: torch.Tensor, size: tuple[int, int]) -> Image.Image:
    """Logits [1, 3, h, w] -> an L image of `size` (width, height): class levels, resized back
    with BICUBIC."""
    labels = logits.argmax(dim=1)[0].numpy()
    return Image.fromarray(LEVELS[labels]).resize(size, Image.BICUBIC)


def matting_input(image: Image.Image, trimap_image: Image.Image) -> torch.Tensor:
    """[1, 4, H, W]: the normalised image at its own size and the trimap as ToTensor makes it."""
    return torch.cat([normalise(image), transforms.ToTensor()(trimap_image)]).unsqueeze(0)


def encode_png(alpha: torch.Tensor) -> bytes:
    """Alpha [1, 1, H, W] in [0, 1] -> 8-bit greyscale PNG, rounded to the nearest level."""
    pixels = (alpha.clamp(0, 1) * 255).round().to(torch.uint8)[0, 0].numpy()
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, "PNG")
    return png.getvalue()


def remove_background(segmenter, matting, encoded: bytes, size: int = 320) -> bytes:
    image = decode(encoded)
    with torch.inference_mode():
        logits = segmenter(segmenter_input(image, size))[0]
        alpha = matting(matting_input(image, trimap(logits, image.size)))
    return encode_png(alpha)
