"""Small TorchScript models exported by real PyTorch at test time, with their model.yaml."""

from __future__ import annotations

import pathlib
import shutil
import sys
from typing import Dict, Tuple

import torch
from torch import nn


class Classifier(nn.Module):
    """A small CNN: [B, 3, 16, 16] -> [B, 5] probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8 * 8 * 8, 5)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv(image)), 2).flatten(1)
        return torch.softmax(self.head(x), dim=1)


class TwoOutputs(nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x * 2.0, x.sum(dim=1)


class DictOutputs(nn.Module):
    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"minus": x - 1.0, "plus": x + 1.0}


class Integers(nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return x * 2, x > 0, (x % 256).to(torch.uint8)


class Half(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class Faulty(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x[0, 0] < 0):
            raise ValueError("negative input is not allowed")
        return x + 1


class Greedy(nn.Module):
    """Asks for x[0, 0] TiB when it is positive: more memory than any machine has."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tebibytes = int(x[0, 0].item())
        if tebibytes > 0:
            return torch.empty([tebibytes * (1 << 38)], dtype=torch.float32)[:1].view(1, 1)
        return x + 1


class AddConstant(nn.Module):
    def __init__(self, constant: float) -> None:
        super().__init__()
        self.constant = constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.constant


class WrongDtype(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def _save(module: nn.Module, model_dir: pathlib.Path, yaml: str, version: int = 1) -> None:
    (model_dir / str(version)).mkdir(parents=True, exist_ok=True)
    torch.jit.script(module.eval()).save(str(model_dir / str(version) / "model.pt"))
    (model_dir / "model.yaml").write_text(yaml)


def _io(inputs: str, outputs: str, max_batch: int, extra: str = "") -> str:
    return (f"backend: torchscript\nmax_batch_size: {max_batch}\ninputs: {inputs}\n"
            f"outputs: {outputs}\ninstances: [{{devices: cpu, count: 1}}]\n{extra}")


def export_test_repository(root: pathlib.Path) -> pathlib.Path:
    """Writes every test model under `root` and returns it."""
    torch.manual_seed(0)
    _save(Classifier(), root / "classifier",
          _io("[{name: image, datatype: FP32, shape: [3, 16, 16]}]",
              "[{name: probabilities, datatype: FP32, shape: [5]}]", 8,
              "warmup: {batch_sizes: [1, 8]}\n"))
    _save(TwoOutputs(), root / "two_outputs",
          _io("[{name: x, datatype: FP32, shape: [-1]}]",
              "[{name: doubled, datatype: FP32, shape: [-1]}, {name: total, datatype: FP32, shape: []}]",
              4))
    _save(DictOutputs(), root / "dict_outputs",
          _io("[{name: x, datatype: FP32, shape: [2, 2]}]",
              "[{name: plus, datatype: FP32, shape: [2, 2]}, {name: minus, datatype: FP32, shape: [2, 2]}]",
              0))
    _save(Integers(), root / "integers",
          _io("[{name: x, datatype: INT64, shape: [3]}]",
              "[{name: doubled, datatype: INT64, shape: [3]}, {name: positive, datatype: BOOL, shape: [3]},"
              " {name: low_byte, datatype: UINT8, shape: [3]}]", 4))
    _save(Half(), root / "half",
          _io("[{name: x, datatype: FP16, shape: [4]}]",
              "[{name: y, datatype: FP16, shape: [4]}]", 2))
    _save(Faulty(), root / "faulty",
          _io("[{name: x, datatype: FP32, shape: [2]}]",
              "[{name: y, datatype: FP32, shape: [2]}]", 4))
    versioned = _io("[{name: x, datatype: FP32, shape: [1]}]",
                    "[{name: y, datatype: FP32, shape: [1]}]", 1)
    _save(AddConstant(1.0), root / "versioned", versioned, version=1)
    _save(AddConstant(2.0), root / "versioned", versioned, version=2)
    _save(Greedy(), root / "greedy",
          _io("[{name: x, datatype: FP32, shape: [1]}]",
              "[{name: y, datatype: FP32, shape: [1]}]", 1))
    _save(WrongDtype(), root / "wrong_dtype",
          _io("[{name: x, datatype: FP32, shape: [1]}]",
              "[{name: y, datatype: FP32, shape: [1]}]", 1))
    return root


class Smoother(nn.Module):
    """A 3×3 convolution over an image of any size: [B, 1, H, W] -> [B, 1, H, W], and the
    image's mean per item: exported with free height and width."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return torch.tanh(self.conv(x)), x.mean(dim=(1, 2, 3))


# AOTInductor packages take about 30 s each to compile on two cores: they are made once per
# version of this file (scripts/export_pt2.py's cached_export) and shared across clones.
AOTI_MODELS = ("classifier", "smoother")
# The classifier once more, its fused kernels fixed at one thread more than the default.
AOTI_THREADS_MODEL = "classifier_threads"


def _export_aoti_models(folder: pathlib.Path) -> None:
    from export_pt2 import export_pt2

    torch.manual_seed(0)
    export_pt2(Classifier(), {"image": torch.rand(3, 16, 16)}, folder, "classifier",
               max_batch_size=8, output_names=["probabilities"],
               extra_yaml="instances: [{devices: cpu, count: 1}]\n"
                          "dynamic_batching: {max_queue_delay_us: 20000}\n")
    torch.manual_seed(0)
    export_pt2(Smoother(), {"x": torch.rand(1, 24, 20)}, folder, "smoother",
               max_batch_size=4, free_dims={"x": [1, 2]}, output_names=["smooth", "mean"],
               extra_yaml="instances: [{devices: cpu, count: 1}]\n"
                          "warmup: {batch_sizes: [1], shapes: {x: [1, 24, 20]}}\n")
    torch.manual_seed(0)
    export_pt2(Classifier(), {"image": torch.rand(3, 16, 16)}, folder, AOTI_THREADS_MODEL,
               max_batch_size=8, output_names=["probabilities"],
               threads=torch.get_num_threads() + 1)


def aoti_packages() -> pathlib.Path:
    """The folder of the AOTInductor test models, exported on first use."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
    from export_pt2 import cached_export

    return cached_export("aoti-tests", [pathlib.Path(__file__).resolve()], _export_aoti_models)


def aoti_repository(root: pathlib.Path) -> pathlib.Path:
    """Copies the AOTInductor test models (AOTI_MODELS) into `root`; returns it."""
    for name in AOTI_MODELS:
        shutil.copytree(aoti_packages() / name, root / name)
    return root


WIDE_WEIGHT_BYTES = (1024 * 2048 + 2048) * 4


def save_wide(folder: pathlib.Path, devices: str = "cpu") -> None:
    """An 8 MB TorchScript model (1024 × 2048 weights and 2048 biases, FP32: WIDE_WEIGHT_BYTES)
    in `folder`, one instance on `devices`: for memory accounting and load/unload cycles."""
    (folder / "1").mkdir(parents=True)
    torch.manual_seed(0)
    torch.jit.script(nn.Linear(1024, 2048)).save(str(folder / "1" / "model.pt"))
    (folder / "model.yaml").write_text(
        "backend: torchscript\nmax_batch_size: 4\n"
        "inputs: [{name: x, datatype: FP32, shape: [1024]}]\n"
        "outputs: [{name: y, datatype: FP32, shape: [2048]}]\n"
        f"instances: [{{devices: {devices}, count: 1}}]\n")
