"""Compiled models against TorchScript, same server, same config, side by side: the example's
remove_background with its segmenter and matting net as AOTInductor packages (`backend: aoti`,
exported by scripts/export_pt2.py) against the same weights as TorchScript, at 1, 2, 4 and 8
clients, alternating the two servers row by row; and each format's forward passes alone,
in-process (the models called from this Python process, no server).

Both formats are served twice: as the example configures them (the segmenter at 160×160 as in
bench-pipeline, TANDEM_BENCH_SEGMENTER_SIZE, batches of up to 4 within 2 ms), and tuned for a
CPU of few cores as bench-pipeline's tuned Tandem is (two instances a model, one intra-op
thread each, packages compiled for one thread: common.bench_repository). The packages are
compiled once per version of the models and of the export code (bench/packages.py) and kept in
~/.cache/tandem.

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
from common import TUNED_ENV, bench_repository, publish  # noqa: E402
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


# The two configurations both formats are served with: the example's, and one tuned for a CPU
# of few cores (common.bench_repository).
CONFIGS = {"example": "the example's configuration (1 instance a model, LibTorch's intra-op "
                      "threads, segmenter batches of up to 4 within 2 ms)",
           "tuned": "tuned (2 instances a model × 1 intra-op thread, packages compiled for 1 "
                    "thread, one request at a time)"}


def serve(tmp: pathlib.Path, tuned: bool, concurrency: list[int], seconds: int) -> dict:
    body = IMAGE.read_bytes()
    rows = {"torchscript": [], "aoti": []}
    servers = {backend: start_server(bench_repository(tmp / backend, SIZE, backend, tuned),
                                     env=TUNED_ENV if tuned else None)
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
                print(f"{'tuned' if tuned else 'example'} {key:12s} c={c:<3d} "
                      f"{row['throughput_rps']:6.2f} img/s p50={row['p50_ms']:.1f} "
                      f"p99={row['p99_ms']:.1f} ms errors={row['errors']}", flush=True)
    finally:
        for s in servers.values():
            s.stop()
    return {"rows": rows, "matte_agreement": agreement}


def report(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, `make bench-compiled`: "
        f"the example's remove_background ({results['image']}, segmenter at "
        f"{results['segmenter_size']}×{results['segmenter_size']}), one Tandem serving the "
        "models as TorchScript and one serving the same weights as AOTInductor packages, same "
        "config, alternating row by row, in two configurations, one after the other; Python "
        f"clients, closed loop, {results['seconds']} s a row."]
    best = {}
    for config, label in CONFIGS.items():
        served = results["serve"][config]
        ts, pt2 = served["rows"]["torchscript"], served["rows"]["aoti"]
        lines += ["", f"{label[0].upper()}{label[1:]}; the two servers' mattes agree on "
                  f"{served['matte_agreement'] * 100:.1f}% of pixels within 2 levels:", "",
                  "| clients | TorchScript img/s | AOTI img/s | ratio | TorchScript p50 ms | "
                  "AOTI p50 ms |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for a, b in zip(ts, pt2):
            ratio = b["throughput_rps"] / a["throughput_rps"]
            lines.append(f"| {a['concurrency']} | {a['throughput_rps']:.2f} | "
                         f"{b['throughput_rps']:.2f} | {ratio:.2f}× | {a['p50_ms']:.0f} | "
                         f"{b['p50_ms']:.0f} |")
        best[config] = (max(r["throughput_rps"] for r in pt2), max(r["throughput_rps"] for r in ts))
    lines += ["", "Best against best (target ≥ 1.4×): " + "; ".join(
        f"{config} **{a / b:.2f}×** ({a:.2f} against {b:.2f} img/s)"
        for config, (a, b) in best.items()) + ".", "",
              "The forward passes alone, in-process (ms, median of 12; Python, LibTorch's "
              "intra-op threads, the packages compiled for them, both formats alternating):", "",
              "| model | TorchScript | AOTI | speed-up |", "| --- | ---: | ---: | ---: |"]
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
            "serve": {config: serve(tmp / config, config == "tuned",
                                    [int(c) for c in args.concurrency.split(",")], args.seconds)
                      for config in CONFIGS},
        }
    publish("compiled", DOC_TITLE, results, report)


if __name__ == "__main__":
    main()
