"""Exports the example classifier: a small TorchScript CNN with a fixed seed.

Writes, beside this file:
  ../repository/classifier/1/model.pt   the TorchScript module (torch.jit.script); its
                                        model.yaml is checked in beside it
  sample_request.json                a v2 request holding one random 3x32x32 image, for curl

Usage: python examples/classifier/export.py
"""

import argparse
import json
import pathlib

import torch
from torch import nn


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


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    here = pathlib.Path(__file__).parent
    version_dir = here.parent / "repository" / "classifier" / "1"

    torch.manual_seed(0)
    model = torch.jit.script(Classifier().eval())
    version_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(version_dir / "model.pt"))

    image = torch.rand(1, 3, 32, 32)
    request = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 32, 32],
                           "data": [round(v, 4) for v in image.flatten().tolist()]}]}
    (here / "sample_request.json").write_text(json.dumps(request))
    print(f"exported the classifier to {version_dir}")


if __name__ == "__main__":
    main()
