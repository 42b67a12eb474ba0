"""remove_background on cuda:0, in one run: Tandem with 1 and 2 instances of each model and
segmenter batches of 1 and 8 (TorchScript), and with batches of 8 as AOTInductor packages
compiled on the card (`make example` on this machine), against the seed approach on the same GPU (the toolkit's
inference.py functions, eager PyTorch with NumPy between the models, one request at a time, in
1 and 2 worker processes as the toolkit's workers run them, called in-process: no HTTP, so its
figures are an upper bound for the seed). Run by scripts/gpu-check.

Also reports the GPU's busy share while Tandem serves (nvidia-smi samples) and what the
host↔device copies of one image cost against one segmenter step (measured with torch).

Usage: python bench/gpu/run.py --tandem BIN --out DIR [--seconds 15] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "pipeline" / "contenders" / "seed"))
sys.path.insert(0, str(ROOT / "bench" / "pipeline" / "contenders"))
sys.path.insert(0, str(ROOT / "examples" / "remove_background"))
sys.path.insert(0, str(ROOT / "tests"))
from common import copy_example  # noqa: E402
from http_load import closed_loop  # noqa: E402
from support.server import start_server  # noqa: E402

EXAMPLES = ROOT / "examples"
IMAGE = EXAMPLES / "remove_background" / "sample.jpg"
SEGMENTER_SIZE = 320  # the example's own size: a GPU has no need of the CPU benchmark's 160
os.environ["TANDEM_BENCH_SEGMENTER_SIZE"] = str(SEGMENTER_SIZE)  # for the seed's steps.py


def tandem_repository(root: pathlib.Path, instances: int, batch: int,
                      backend: str = "torchscript") -> pathlib.Path:
    """The example on cuda:0 with `instances` of each model, segmenter batches up to `batch`,
    the models served by `backend` (aoti: the CUDA packages `make example` compiled here)."""
    repo = copy_example(root / f"tandem-{backend}-{instances}x-b{batch}", backend)
    for name in ("segmenter", "matting"):
        config = repo / name / "model.yaml"
        text = config.read_text().replace("devices: auto, count: 1",
                                          f"devices: [cuda:0], count: {instances}")
        if name == "segmenter":
            text = text.replace("preferred_batch_sizes: [4, 8]", "preferred_batch_sizes: [8]")
            if batch == 1:
                text = text.replace("max_batch_size: 8", "max_batch_size: 1").replace(
                    "dynamic_batching: {max_queue_delay_us: 2000, preferred_batch_sizes: [8]}\n",
                    "")
        config.write_text(text)
    return repo


class GpuBusy:
    """Samples nvidia-smi's utilization.gpu of device 0 every 200 ms while in use."""

    def __enter__(self):
        self.process = subprocess.Popen(
            ["nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu",
             "--format=csv,noheader,nounits", "-lms", "200"],
            stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        out = self.process.communicate()[0]
        samples = [int(line) for line in out.split() if line.strip().isdigit()]
        # The first and last samples straddle the load's start and end.
        samples = samples[2:-2] if len(samples) > 6 else samples
        self.percent = sum(samples) / len(samples) if samples else float("nan")


def run_tandem(repo: pathlib.Path, concurrency: int, seconds: float, out: pathlib.Path) -> dict:
    """Serves `repo` with --tandem's binary and loads its remove_background pipeline."""
    server = start_server(repo, "--strict")
    try:
        headers = {"Content-Type": "image/jpeg", "Accept": "image/png",
                   "X-Amzn-SageMaker-Target-Model": "remove_background"}
        body = IMAGE.read_bytes()
        closed_loop(server.port, "/invocations", body, headers, concurrency, 3)  # warm-up
        with GpuBusy() as busy:
            row = closed_loop(server.port, "/invocations", body, headers, concurrency, seconds)
        row["gpu_busy_percent"] = busy.percent
        return row
    finally:
        server.stop()
        (out / f"serve-{repo.name}.log").write_text("\n".join(server.log) + "\n")


def _seed_worker(model_dir: str, seconds: float, queue) -> None:
    import inference  # the seed's inference.py; it picks the GPU when there is one

    models = inference.model_fn(model_dir)
    body = IMAGE.read_bytes()
    for _ in range(3):
        inference.output_fn(inference.predict_fn(inference.input_fn(body, "image/jpeg"), models),
                            "image/png")
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        inference.output_fn(inference.predict_fn(inference.input_fn(body, "image/jpeg"), models),
                            "image/png")
        latencies.append(time.perf_counter() - start)
    queue.put(latencies)


def run_seed(workers: int, seconds: float, model_dir: pathlib.Path) -> dict:
    # Spawned, not forked: CUDA cannot be used in a child forked after the parent initialised it.
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_seed_worker, args=(str(model_dir), seconds, queue))
             for _ in range(workers)]
    with GpuBusy() as busy:
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = np.array([lat for r in results for lat in r])
    return {"concurrency": workers, "requests": int(latencies.size), "errors": 0,
            "throughput_rps": latencies.size / seconds,
            "p50_ms": float(np.percentile(latencies, 50) * 1e3),
            "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "gpu_busy_percent": busy.percent}


def copy_share() -> dict:
    """One image's host→device copy (the decoded RGB) and device→host copy (the alpha matte),
    pinned, against one segmenter step at batch 1, on cuda:0."""
    from PIL import Image

    rgb = torch.from_numpy(np.array(Image.open(IMAGE).convert("RGB")))
    alpha = torch.zeros(1, 1, rgb.shape[0], rgb.shape[1], device="cuda")
    segmenter = torch.jit.load(str(EXAMPLES / "repository" / "segmenter" / "1" / "model.pt"),
                               map_location="cuda")
    x = torch.zeros(1, 3, SEGMENTER_SIZE, SEGMENTER_SIZE, device="cuda")

    def timed(fn, repeat=50) -> float:
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / repeat * 1e3

    with torch.inference_mode():
        copies = timed(lambda: (rgb.pin_memory().to("cuda", non_blocking=True),
                                alpha.to("cpu")))
        step = timed(lambda: segmenter(x))
    return {"copies_ms": copies, "segmenter_step_ms": step, "share": copies / step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tandem", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ["TANDEM_BIN"] = args.tandem  # what start_server runs
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        sys.exit("bench/gpu/run.py: LibTorch sees no GPU here")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        seed_dir = tmp / "seed"
        seed_dir.mkdir()
        for name in ("segmenter", "matting"):
            shutil.copy(EXAMPLES / "repository" / name / "1" / "model.pt", seed_dir / f"{name}.pt")
        for workers in (1, 2):
            row = {"contender": f"seed approach, {workers} worker(s)",
                   **run_seed(workers, args.seconds, seed_dir)}
            rows.append(row)
            print(row, flush=True)
        tandem = [("torchscript", i, b) for i in (1, 2) for b in (1, 8)]
        tandem += [("aoti", i, 8) for i in (1, 2)]
        for backend, instances, batch in tandem:
            repo = tandem_repository(tmp, instances, batch, backend)
            label = "" if backend == "torchscript" else ", compiled (.pt2)"
            row = {"contender": f"Tandem, {instances} instance(s), batch {batch}{label}",
                   "backend": backend, **run_tandem(repo, args.concurrency, args.seconds, out)}
            rows.append(row)
            print(row, flush=True)
    copies = copy_share()
    seed_best = max(r["throughput_rps"] for r in rows if r["contender"].startswith("seed"))
    tandem_best = max(r["throughput_rps"] for r in rows if r["contender"].startswith("Tandem"))
    ts_best, pt2_best = (max(r["throughput_rps"] for r in rows if r.get("backend") == b)
                         for b in ("torchscript", "aoti"))
    summary = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d"), "seconds": args.seconds,
               "tandem_clients": args.concurrency, "rows": rows, "copies": copies,
               "tandem_over_seed": tandem_best / seed_best, "aoti_over_torchscript":
               pt2_best / ts_best}
    (out / "gpu-bench.json").write_text(json.dumps(summary, indent=1))

    print(f"\nremove_background on {summary['device']} ({summary['date']}), "
          f"{args.seconds:.0f} s a row; Tandem under {args.concurrency} HTTP clients\n")
    print(f"| {'contender':<48} | img/s | p50 ms | p99 ms | GPU busy % | errors |")
    print(f"| {'-' * 48} | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['contender']:<48} | {r['throughput_rps']:.1f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['gpu_busy_percent']:.0f} | {r['errors']} |")
    print(f"\nTandem's best ÷ the seed's best: {summary['tandem_over_seed']:.2f}× (target ≥ 3×)")
    print(f"Compiled (.pt2) ÷ TorchScript, best against best: "
          f"{summary['aoti_over_torchscript']:.2f}×")
    print(f"Copies of one image (pinned H2D of the RGB + D2H of the matte): "
          f"{copies['copies_ms']:.3f} ms = {copies['share'] * 100:.1f}% of one segmenter step "
          f"({copies['segmenter_step_ms']:.2f} ms; target ≤ 10%)")


if __name__ == "__main__":
    main()
