"""Exports the example classifier: a small CNN with a fixed seed.

Writes, beside this file:
  ../repository/classifier/1/model.pt2  an AOTInductor package (what the checked-in model.yaml
                                        serves, `backend: aoti`), compiled for this machine's
                                        GPU when torch sees one, else for its CPU; compiled once
                                        and kept in ~/.cache/tandem
  ../repository/classifier/1/model.pt   the same weights as TorchScript (torch.jit.script;
                                        `backend: torchscript` serves it)
  sample_request.json                   a v2 request holding one random 3x32x32 image, for curl

Usage: python examples/classifier/export.py
"""

import argparse
import json
import pathlib
import shutil
import sys

import torch
from torch import nn

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
from export_pt2 import cached_export, export_pt2  # noqa: E402


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * 8 * 8, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.features(image).flatten(1)
        return torch.softmax(self.head(x), dim=1)


def classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier().eval()


def compiled(device: str, threads: int | None = None) -> pathlib.Path:
    """A folder with classifier/1/model.pt2 compiled for `device`'s kind (on a CPU, for `threads`
    threads: export_pt2)."""

    def export(folder: pathlib.Path) -> None:
        print(f"compiling the classifier for {device} (once; ~30 s on two cores)", flush=True)
        export_pt2(classifier().to(device), {"image": torch.rand(3, 32, 32, device=device)},
                   folder, "classifier", max_batch_size=8, threads=threads)

    label = f"example-classifier-{torch.device(device).type}"
    label += f"-{threads}-threads" if threads else ""
    return cached_export(label, [pathlib.Path(__file__).resolve()], export, device)


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    version_dir = HERE.parent / "repository" / "classifier" / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    torch.jit.script(classifier()).save(str(version_dir / "model.pt"))
    image = torch.rand(1, 3, 32, 32)
    packages = compiled("cuda" if torch.cuda.is_available() else "cpu")
    shutil.copy(packages / "classifier" / "1" / "model.pt2", version_dir / "model.pt2")

    request = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 32, 32],
                           "data": [round(v, 4) for v in image.flatten().tolist()]}]}
    (HERE / "sample_request.json").write_text(json.dumps(request))
    print(f"exported the classifier to {version_dir}")


if __name__ == "__main__":
    main()
