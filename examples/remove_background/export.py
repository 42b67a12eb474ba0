"""Exports the background-removal example: a U²-Netp-shaped segmenter and a small matting net
(real PyTorch, fixed seed, random weights: the point is the serving path, not the cut-out), and
a sample JPEG to send.

Writes:
  ../repository/segmenter/1/model.pt2   ../repository/matting/1/model.pt2   AOTInductor packages
      (what the checked-in model.yaml files serve, `backend: aoti`), compiled for this machine's
      GPU when torch sees one, else for its CPU; compiled once per version of the models and
      kept in ~/.cache/tandem (about 4 minutes on two cores the first time)
  ../repository/segmenter/1/model.pt    ../repository/matting/1/model.pt    the same weights as
      TorchScript (`backend: torchscript` serves them; the benchmarks compare the two)
  sample.jpg

Usage: python examples/remove_background/export.py
"""

import argparse
import pathlib
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
from export_pt2 import cached_export, export_pt2  # noqa: E402
from models import Matting, Segmenter  # noqa: E402

REPOSITORY = HERE.parent / "repository"
MODELS = ("segmenter", "matting")
SEGMENTER_SIZE = 320


def modules() -> dict:
    """The two networks with the example's weights (seed 0, made in this order)."""
    torch.manual_seed(0)
    return {"segmenter": Segmenter().eval(), "matting": Matting().eval()}


def export_packages(folder: pathlib.Path, device: str = "cpu", size: int = SEGMENTER_SIZE,
                    max_batch_size: int = 8, threads: int | None = None) -> None:
    """Exports the two networks to folder/segmenter and folder/matting as AOTInductor packages
    for `device`: the segmenter at size×size in batches of up to `max_batch_size`, the matting
    net at any height and width; a CPU package's fused kernels on `threads` (export_pt2)."""
    nets = {name: module.to(device) for name, module in modules().items()}
    export_pt2(nets["segmenter"], {"image": torch.rand(3, size, size, device=device)}, folder,
               "segmenter", max_batch_size=max_batch_size, threads=threads)
    # Height and width are free (Dim.AUTO): the matting net runs at each image's own size.
    export_pt2(nets["matting"], {"x": torch.rand(1, 4, 96, 128, device=device)}, folder,
               "matting", free_dims={"x": [2, 3]}, threads=threads)


def compiled(device: str, threads: int | None = None) -> pathlib.Path:
    """A folder with segmenter/1/model.pt2 and matting/1/model.pt2 compiled for `device`'s kind
    (on a CPU, for `threads` threads: export_pt2), exported once per version of models.py and
    this file."""

    def export(folder: pathlib.Path) -> None:
        started = time.perf_counter()
        print(f"compiling the example's models for {device} (once; about 4 minutes on two cores)",
              flush=True)
        export_packages(folder, device, threads=threads)
        print(f"compiled in {time.perf_counter() - started:.0f} s", flush=True)

    label = f"example-remove-background-{torch.device(device).type}"
    label += f"-{threads}-threads" if threads else ""
    return cached_export(label, [HERE / "models.py", pathlib.Path(__file__).resolve()], export,
                         device)


def sample_image(path: pathlib.Path) -> None:
    """A 301x207 picture: a bright disc on a striped background."""
    h, w = 207, 301
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255 // w), (y * 255 // h), ((x // 12) % 2) * 90], -1).astype(np.uint8)
    disc = (x - w * 0.55) ** 2 + (y - h * 0.5) ** 2 < (h * 0.3) ** 2
    rgb[disc] = [240, 200, 60]
    Image.fromarray(rgb).save(path, quality=92)


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    packages = compiled("cuda" if torch.cuda.is_available() else "cpu")
    for name, module in modules().items():
        version = REPOSITORY / name / "1"
        version.mkdir(parents=True, exist_ok=True)
        torch.jit.script(module).save(str(version / "model.pt"))
        shutil.copy(packages / name / "1" / "model.pt2", version / "model.pt2")
    sample_image(HERE / "sample.jpg")
    print(f"exported the segmenter and matting models to {REPOSITORY}")


if __name__ == "__main__":
    main()
