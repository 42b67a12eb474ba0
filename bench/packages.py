"""The AOTInductor packages the benchmarks serve: the example's two models (its weights) with the
benchmarks' segmenter size and batch, compiled for a number of threads. They are compiled once
and kept in ~/.cache/tandem, keyed by this file (with the models and the export code): what
decides the packages lives here alone, so changing other benchmark code compiles nothing."""

from __future__ import annotations

import pathlib
import sys
import time
from typing import Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "remove_background"


def bench_packages(size: int, threads: Optional[int] = None) -> pathlib.Path:
    """A folder holding segmenter/1/model.pt2 (at size×size, batches of up to 4) and
    matting/1/model.pt2 (height and width free), whose fused kernels run on `threads` threads
    (default: this machine's intra-op threads; a CPU package fixes it at export). About four
    minutes on two cores the first time."""
    for folder in (ROOT / "scripts", EXAMPLE):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import export as example  # examples/remove_background/export.py
    from export_pt2 import cached_export

    def export(folder: pathlib.Path) -> None:
        started = time.perf_counter()
        example.export_packages(folder, size=size, max_batch_size=4, threads=threads)
        print(f"compiled the benchmarks' packages in {time.perf_counter() - started:.0f} s",
              flush=True)

    label = f"bench-models-{size}" + (f"-{threads}-threads" if threads else "")
    return cached_export(label, [EXAMPLE / "models.py", pathlib.Path(example.__file__),
                                 pathlib.Path(__file__)], export)
