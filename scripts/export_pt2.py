"""Exports a PyTorch module as an AOTInductor package, a repository entry for `backend: aoti`:

    <repository>/<name>/model.yaml       inputs, outputs and shapes read from the exported program
    <repository>/<name>/<version>/model.pt2

torch.export traces the module with example inputs; AOTInductor compiles the traced program for
the device the examples are on (a CPU package records this CPU's vector ISA, a CUDA package
needs a GPU at export time) and packages it. Dimensions:
  - the batch dimension (dim 0, with --max-batch-size > 0) is exported as
    Dim("batch", min=1, max=max_batch_size); the examples are traced at batch 2, because
    torch.export specialises a size-1 dimension to 1;
  - dimensions named free (`free_dims`, or -1 in --input shapes) are exported with Dim.AUTO:
    torch.export infers their range (a model that pads to a multiple of 16 exports, where a
    hand-written Dim(min=16) range fails its guards); they are -1 in model.yaml;
  - every other dimension is fixed at the example's size.

From Python: export_pt2(module, {"image": example}, repository, "classifier", max_batch_size=8).
From the shell:
    python scripts/export_pt2.py my_package.models:make_classifier REPOSITORY NAME \\
        --input image=FP32:3,32,32 --max-batch-size 8
(the factory is called with no arguments and returns the module; -1 in a shape is a free
dimension, exported at --free-size). A CPU package's fused kernels run on a thread count fixed at
export, this machine's intra-op threads unless --threads says otherwise: export with the threads
each instance will have.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import pathlib
import shutil
import sys
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch.export import Dim

# Noise from torch itself while it compiles, not about the model: a deprecation inside its own
# tree utilities, and a note that no CUDA runtime is loaded when compiling for the CPU.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)

# v2 datatype names of the torch dtypes a model takes and returns.
V2_TYPES = {
    torch.bool: "BOOL", torch.uint8: "UINT8", torch.int8: "INT8", torch.int16: "INT16",
    torch.int32: "INT32", torch.int64: "INT64", torch.float16: "FP16", torch.bfloat16: "BF16",
    torch.float32: "FP32", torch.float64: "FP64",
}
TORCH_TYPES = {name: dtype for dtype, name in V2_TYPES.items()}


def _shape(tensor_meta, batched: bool) -> List[int]:
    """A tensor's shape as model.yaml writes it: -1 where it is symbolic, batch dim left out."""
    dims = [int(d) if isinstance(d, int) or str(d).isdigit() else -1 for d in tensor_meta.shape]
    return dims[1:] if batched else dims


def _yaml_tensor(name: str, dtype: torch.dtype, shape: Sequence[int]) -> str:
    if dtype not in V2_TYPES:
        raise ValueError(f"tensor '{name}' is {dtype}, which no v2 datatype names")
    return f"  - {{name: {name}, datatype: {V2_TYPES[dtype]}, shape: {list(shape)}}}"


def export_pt2(module: torch.nn.Module, examples: Dict[str, torch.Tensor],
               repository: pathlib.Path, name: str, *, max_batch_size: int = 0,
               free_dims: Optional[Dict[str, Sequence[int]]] = None,
               output_names: Optional[Sequence[str]] = None, version: int = 1,
               extra_yaml: str = "", threads: Optional[int] = None) -> pathlib.Path:
    """Exports `module` (called with `examples`' tensors, in order, as positional inputs) to
    `repository/name`. `examples` hold one item (no batch dimension) when max_batch_size > 0.
    `free_dims` gives, per input, the dimensions (counted without the batch) that may vary.
    `threads`: the threads a CPU package's fused kernels run on. The package fixes it (default:
    this process's torch.get_num_threads(), the exporting machine's cores unless set); the
    serving process's OMP_NUM_THREADS governs only the kernels it calls in ATen (convolutions,
    matrix products). Export with the threads each instance will have. Returns the package's
    path."""
    module = module.eval()
    free_dims = free_dims or {}
    batched = max_batch_size > 0
    batch = Dim("batch", min=1, max=max_batch_size) if batched else None
    args, dynamic = [], []
    for input_name, example in examples.items():
        spec = {}
        if batched:
            example = torch.stack([example, example])
            spec[0] = batch
        for d in free_dims.get(input_name, ()):
            spec[d + 1 if batched else d] = Dim.AUTO
        args.append(example)
        dynamic.append(spec or None)
    with torch.inference_mode(False), torch.no_grad():
        program = torch.export.export(module, tuple(args), dynamic_shapes=tuple(dynamic))
    output_node = next(n for n in program.graph.nodes if n.op == "output")
    results = output_node.args[0]
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    metas = [r.meta["val"] for r in results]
    output_names = list(output_names or [f"output{i}" for i in range(len(metas))])
    if len(output_names) != len(metas):
        raise ValueError(f"the module returns {len(metas)} tensors, but {len(output_names)} "
                         "output names were given")
    user_inputs = set(program.graph_signature.user_inputs)
    placeholders = [n for n in program.graph.nodes
                    if n.op == "placeholder" and n.name in user_inputs]

    model_dir = repository / name
    version_dir = model_dir / str(version)
    version_dir.mkdir(parents=True, exist_ok=True)
    package = version_dir / "model.pt2"
    with torch._inductor.config.patch({"cpp.threads": threads or -1}):
        torch._inductor.aoti_compile_and_package(program, package_path=str(package))

    lines = ["# Written by scripts/export_pt2.py from the exported program.", "backend: aoti",
             f"max_batch_size: {max_batch_size}", "inputs:"]
    for input_name, node in zip(examples, placeholders):
        lines.append(_yaml_tensor(input_name, node.meta["val"].dtype,
                                  _shape(node.meta["val"], batched)))
    lines.append("outputs:")
    for output_name, meta in zip(output_names, metas):
        lines.append(_yaml_tensor(output_name, meta.dtype, _shape(meta, batched)))
    (model_dir / "model.yaml").write_text("\n".join(lines) + "\n" + extra_yaml)
    return package


def cached_export(label: str, sources: Sequence[pathlib.Path],
                  export: Callable[[pathlib.Path], None], device: str = "cpu") -> pathlib.Path:
    """Runs `export(folder)` once per version of what it compiles and returns the folder,
    ~/.cache/tandem/<label>-<key>, outside any clone. Compiling takes tens of seconds a model on
    two cores, so examples, tests and benchmarks export once and share the packages. The key
    hashes `sources` (the files whose content decides the packages: the modules, the code that
    exports them), this script, torch's version and what the package is compiled for: this
    CPU's vector ISA and thread count, or the GPU's architecture when `device` is cuda. Concurrent callers are
    safe: each compiles into its own staging folder and the first to finish is kept."""
    ingredients = [p.read_bytes() for p in (*sources, pathlib.Path(__file__))]
    ingredients.append(torch.__version__.encode())
    ingredients.append(torch.backends.cpu.get_cpu_capability().encode())
    if device.startswith("cuda"):
        ingredients.append(str(torch.cuda.get_device_capability(device)).encode())
    else:  # a CPU package's fused kernels run on this many threads unless told otherwise
        ingredients.append(str(torch.get_num_threads()).encode())
    key = hashlib.sha256(b"\0".join(ingredients)).hexdigest()[:16]
    cache = pathlib.Path.home() / ".cache" / "tandem" / f"{label}-{key}"
    if (cache / "done").exists():
        return cache
    staging = cache.with_name(f"{cache.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    export(staging)
    (staging / "done").touch()
    try:
        staging.rename(cache)
    except OSError:  # another process finished first: keep its packages
        shutil.rmtree(staging, ignore_errors=True)
    return cache


def _parse_input(text: str, free_size: int):
    """NAME=TYPE:D1,D2,... -> (name, example tensor, free dims)."""
    try:
        name, spec = text.split("=", 1)
        dtype_name, dims_text = spec.split(":", 1)
        dims = [int(d) for d in dims_text.split(",")]
    except ValueError:
        raise SystemExit(f"--input {text!r}: expected NAME=TYPE:D1,D2,... (FP32:3,224,224)")
    if dtype_name not in TORCH_TYPES:
        raise SystemExit(f"--input {text!r}: {dtype_name} is not one of {sorted(TORCH_TYPES)}")
    free = [i for i, d in enumerate(dims) if d == -1]
    shape = [free_size if d == -1 else d for d in dims]
    dtype = TORCH_TYPES[dtype_name]
    example = torch.rand(shape).to(dtype) if dtype.is_floating_point else torch.zeros(shape,
                                                                                       dtype=dtype)
    return name, example, free


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("factory", help="module:function returning the nn.Module to export")
    parser.add_argument("repository", type=pathlib.Path)
    parser.add_argument("name", help="the model's folder name in the repository")
    parser.add_argument("--input", action="append", required=True,
                        help="NAME=TYPE:D1,D2,... without the batch dimension; -1 = free")
    parser.add_argument("--output", action="append", help="output names, in order")
    parser.add_argument("--max-batch-size", type=int, default=0)
    parser.add_argument("--free-size", type=int, default=64,
                        help="the size free dimensions are traced at (default 64)")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--threads", type=int,
                        help="threads a CPU package's fused kernels run on (default: this "
                             "machine's intra-op threads); the package fixes it")
    args = parser.parse_args(argv)
    module_name, _, function = args.factory.partition(":")
    sys.path.insert(0, str(pathlib.Path.cwd()))
    module = getattr(importlib.import_module(module_name), function)()
    examples, free = {}, {}
    for text in args.input:
        name, example, dims = _parse_input(text, args.free_size)
        examples[name] = example
        free[name] = dims
    package = export_pt2(module, examples, args.repository, args.name,
                         max_batch_size=args.max_batch_size, free_dims=free,
                         output_names=args.output, version=args.version, threads=args.threads)
    print(f"exported {args.name} to {package}")


if __name__ == "__main__":
    main()
