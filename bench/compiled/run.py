"""Compiled models against TorchScript, same server, same config, side by side: the example's
remove_background with its segmenter and matting net as AOTInductor packages (`backend: aoti`,
exported by scripts/export_pt2.py) against the same weights as TorchScript, at 1, 2, 4 and 8
clients, alternating the two servers row by row; and each format's forward passes alone,
in-process (the models called from this Python process, no server).

The segmenter runs at 160×160 as in bench-pipeline (TANDEM_BENCH_SEGMENTER_SIZE), batches of up
to 4 within 2 ms (common.bench_repository): its package is compiled once per version of the
models and of the export code, and kept in ~/.cache/tandem; the matting net's is the example's
(`make example`).

Writes bench/results/compiled.json and the `compiled` section of docs/performance.md.
Usage (`make bench-compiled`): python bench/compiled/run.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from common import bench_repository, publish  # noqa: E402
from http_load import closed_loop  # noqa: E402
from support.server import start_server  # noqa: E402

SIZE = int(os.environ.get("TANDEM_BENCH_SEGMENTER_SIZE", "160"))
IMAGE = ROOT / "examples" / "remove_background" / "sample.jpg"
DOC_TITLE = "Compiled models: AOTInductor packages against TorchScript"
HEADERS = {"Content-Type": "image/jpeg", "Accept": "image/png",
           "X-Amzn-SageMaker-Target-Model": "remove_background"}


def forward_ms(run, inputs, repeats: int = 12) -> float:
    with torch.inference_mode():
        for _ in range(3):
            run(inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(inputs)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def in_process(served: pathlib.Path) -> dict:
    """Each model's forward pass alone, both formats, alternating (ms, median)."""
    ts = {n: torch.jit.load(str(served / n / "1" / "model.pt")) for n in ("segmenter", "matting")}
    pt2 = {n: torch._inductor.aoti_load_package(str(served / n / "1" / "model.pt2"))
           for n in ("segmenter", "matting")}
    cases = {"segmenter, batch 1": ("segmenter", [torch.rand(1, 3, SIZE, SIZE)]),
             "segmenter, batch 4": ("segmenter", [torch.rand(4, 3, SIZE, SIZE)]),
             "matting, 207×301": ("matting", [torch.rand(1, 4, 207, 301)]),
             "matting, 683×1024": ("matting", [torch.rand(1, 4, 683, 1024)])}
    out = {}
    for label, (name, inputs) in cases.items():
        a = forward_ms(lambda x: ts[name](*x), inputs)
        b = forward_ms(lambda x: pt2[name](*x), inputs)
        out[label] = {"torchscript_ms": a, "aoti_ms": b}
        print(f"in-process {label}: torchscript {a:.1f} ms, aoti {b:.1f} ms", flush=True)
    return out


def same_matte(a: bytes, b: bytes) -> float:
    x = np.asarray(Image.open(io.BytesIO(a)), dtype=np.int16)
    y = np.asarray(Image.open(io.BytesIO(b)), dtype=np.int16)
    return float(np.mean(np.abs(x - y) <= 2)) if x.shape == y.shape else 0.0


def serve(tmp: pathlib.Path, concurrency: list[int], seconds: int) -> dict:
    body = IMAGE.read_bytes()
    rows = {"torchscript": [], "aoti": []}
    servers = {backend: start_server(bench_repository(tmp / backend, SIZE, backend))
               for backend in ("torchscript", "aoti")}
    try:
        mattes = {k: s.post("/invocations", body, headers=HEADERS).body
                  for k, s in servers.items()}
        agreement = same_matte(mattes["torchscript"], mattes["aoti"])
        for i, c in enumerate(concurrency):
            order = ["torchscript", "aoti"] if i % 2 == 0 else ["aoti", "torchscript"]
            for key in order:
                row = closed_loop(servers[key].port, "/invocations", body, HEADERS, c,
                                  seconds)
                rows[key].append(row)
                print(f"{key:12s} c={c:<3d} {row['throughput_rps']:6.2f} img/s "
                      f"p50={row['p50_ms']:.1f} p99={row['p99_ms']:.1f} ms "
                      f"errors={row['errors']}", flush=True)
    finally:
        for s in servers.values():
            s.stop()
    return {"rows": rows, "matte_agreement": agreement}


def report(results: dict) -> str:
    ts, pt2 = results["serve"]["rows"]["torchscript"], results["serve"]["rows"]["aoti"]
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, `make bench-compiled`: "
        f"the example's remove_background ({results['image']}, segmenter at "
        f"{results['segmenter_size']}×{results['segmenter_size']}, batches of up to 4 within "
        "2 ms), one Tandem serving the models as TorchScript and one serving the same weights as "
        "AOTInductor packages, same config, alternating row by row; Python clients, closed loop, "
        f"{results['seconds']} s a row. The two servers' mattes agree on "
        f"{results['serve']['matte_agreement'] * 100:.1f}% of pixels within 2 levels.", "",
        "| clients | TorchScript img/s | AOTI img/s | ratio | TorchScript p50 ms | AOTI p50 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a, b in zip(ts, pt2):
        lines.append(f"| {a['concurrency']} | {a['throughput_rps']:.2f} | {b['throughput_rps']:.2f}"
                     f" | {b['throughput_rps'] / a['throughput_rps']:.2f}× | {a['p50_ms']:.0f} | "
                     f"{b['p50_ms']:.0f} |")
    best_ts = max(r["throughput_rps"] for r in ts)
    best_pt2 = max(r["throughput_rps"] for r in pt2)
    lines += ["", f"Best against best: **{best_pt2 / best_ts:.2f}×** (target ≥ 1.4×).", "",
              "The forward passes alone, in-process (ms, median of 12; Python, both formats "
              "alternating):", "", "| model | TorchScript | AOTI | speed-up |",
              "| --- | ---: | ---: | ---: |"]
    for label, r in results["in_process"].items():
        lines.append(f"| {label} | {r['torchscript_ms']:.1f} | {r['aoti_ms']:.1f} | "
                     f"{r['torchscript_ms'] / r['aoti_ms']:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", default="1,2,4,8")
    args = parser.parse_args()
    if not IMAGE.exists():
        sys.exit("run `make example` first (it exports the models and the sample image)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        results = {
            "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})",
            "date": str(datetime.date.today()), "segmenter_size": SIZE, "seconds": args.seconds,
            "image": f"{Image.open(IMAGE).size[0]}×{Image.open(IMAGE).size[1]} JPEG",
            "in_process": in_process(bench_repository(tmp / "in-process", SIZE, "aoti")),
            "serve": serve(tmp, [int(c) for c in args.concurrency.split(",")], args.seconds),
        }
    publish("compiled", DOC_TITLE, results, report)


if __name__ == "__main__":
    main()
