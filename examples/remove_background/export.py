"""Exports the background-removal example: a U²-Netp-shaped segmenter and a small matting net
(real PyTorch, fixed seed, random weights: the point is the serving path, not the cut-out), and
a sample JPEG to send.

Writes:
  ../repository/segmenter/1/model.pt   ../repository/matting/1/model.pt   (their model.yaml and
  the remove_background pipeline.yaml are checked in beside them)
  sample.jpg

Usage: python examples/remove_background/export.py
"""

import argparse
import pathlib
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from models import Matting, Segmenter  # noqa: E402


def save(module: torch.nn.Module, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(module.eval()).save(str(path))


def sample_image(path: pathlib.Path) -> None:
    """A 301x207 picture: a bright disc on a striped background."""
    h, w = 207, 301
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255 // w), (y * 255 // h), ((x // 12) % 2) * 90], -1).astype(np.uint8)
    disc = (x - w * 0.55) ** 2 + (y - h * 0.5) ** 2 < (h * 0.3) ** 2
    rgb[disc] = [240, 200, 60]
    Image.fromarray(rgb).save(path, quality=92)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    here = pathlib.Path(__file__).parent
    repository = here.parent / "repository"
    torch.manual_seed(0)
    save(Segmenter(), repository / "segmenter" / "1" / "model.pt")
    save(Matting(), repository / "matting" / "1" / "model.pt")
    sample_image(here / "sample.jpg")
    print(f"exported the segmenter and matting models to {repository}")


if __name__ == "__main__":
    main()
