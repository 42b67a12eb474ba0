"""The seed workload (remove_background: JPEG in, alpha PNG out) on this machine's CPU: Tandem
over HTTP against the limit, the same models called back to back in-process with no server.

The stacks users run today (the SageMaker PyTorch toolkit on TorchServe, TorchServe with a batching
handler, Ray Serve) are not measured yet; their rows say so.

Writes bench/results/pipeline.json and the `pipeline` section of docs/performance.md.
Usage (after `make example`):
  .venv/bin/python bench/pipeline/run.py [--seconds 20] [--concurrency 1,2,4,8]

About one image a second fits on this 2-core CPU, so the sweep stops at 8 clients (8 s queues).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from common import run_wrk, write_doc_section  # noqa: E402
from support.server import start_server  # noqa: E402

REPOSITORY = ROOT / "examples" / "repository"
IMAGE = ROOT / "examples" / "remove_background" / "sample.jpg"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process_limit(batch: int, seconds: float) -> float:
    """Images per second through the same TorchScript models and the same steps, called back to
    back in this process: decode and preprocess, segment `batch` images at once, then trimap,
    matting and PNG per image."""
    segmenter = torch.jit.load(str(REPOSITORY / "segmenter" / "1" / "model.pt"))
    matting = torch.jit.load(str(REPOSITORY / "matting" / "1" / "model.pt"))
    encoded = IMAGE.read_bytes()
    done, start = 0, time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - start < seconds:
            rgbs = [np.array(Image.open(io.BytesIO(encoded)).convert("RGB")) for _ in range(batch)]
            x = torch.stack([torch.from_numpy(r).permute(2, 0, 1) for r in rgbs]).float() / 255
            x = (F.interpolate(x, size=(320, 320), mode="bilinear", align_corners=False) - MEAN) / STD
            labels = segmenter(x)[0].argmax(dim=1)
            levels = torch.tensor([0, 128, 255], dtype=torch.uint8)[labels]
            for i, rgb in enumerate(rgbs):
                trimap = F.interpolate(levels[i:i + 1].unsqueeze(1).float(), size=rgb.shape[:2],
                                       mode="nearest").to(torch.uint8)[:, 0]
                alpha = matting(torch.from_numpy(rgb), trimap)
                png = io.BytesIO()
                Image.fromarray((alpha.clamp(0, 1) * 255).to(torch.uint8)[0, 0].numpy()).save(
                    png, "PNG")
            done += batch
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", default="1,2,4,8")
    args = parser.parse_args()
    if not IMAGE.exists():
        sys.exit("run `make example` first (it exports the models and the sample image)")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    threads = torch.get_num_threads()
    machine = f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})"

    limit = {b: in_process_limit(b, args.seconds) for b in (1, 2, 4, 8)}
    best_batch = max(limit, key=limit.get)
    print("in-process limit, images/s by segmenter batch size:",
          {b: round(v, 2) for b, v in limit.items()}, flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = pathlib.Path(tmp) / "jpeg.lua"
        script.write_text(
            f'local f = io.open("{IMAGE}", "rb")\n'
            'wrk.method = "POST"\nwrk.body = f:read("*all")\nf:close()\n'
            'wrk.headers["Content-Type"] = "image/jpeg"\n'
            'wrk.headers["Accept"] = "image/png"\n'
            'wrk.headers["X-Amzn-SageMaker-Target-Model"] = "remove_background"\n')
        server = start_server(REPOSITORY)
        try:
            url = f"http://127.0.0.1:{server.port}/invocations"
            run_wrk(url, str(script), 2, 3)  # warm-up
            for c in concurrencies:
                before = (time.perf_counter(), cpu_seconds(server.process.pid))
                result = run_wrk(url, str(script), c, args.seconds)
                wall = time.perf_counter() - before[0]
                cpu = (cpu_seconds(server.process.pid) - before[1]) / wall
                rows.append({"contender": "tandem", "concurrency": c, "server_cpu_cores": cpu,
                             **result})
                print(f"tandem clients={c:<3} {result['throughput_rps']:7.2f} img/s  "
                      f"p50={result['p50_ms']:.0f} p90={result['p90_ms']:.0f} "
                      f"p99={result['p99_ms']:.0f} ms  errors={result['non_2xx']}  "
                      f"cpu={cpu:.2f} cores", flush=True)
        finally:
            server.stop()

    best = max(r["throughput_rps"] for r in rows)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "pipeline.json").write_text(json.dumps(
        {"machine": machine, "date": str(datetime.date.today()), "torch_threads": threads,
         "image": f"{IMAGE.name} ({Image.open(IMAGE).size[0]}x{Image.open(IMAGE).size[1]} JPEG)",
         "in_process_limit_images_per_s": limit, "rows": rows,
         "tandem_over_limit": best / limit[best_batch]}, indent=1))

    lines = [
        f"Measured {datetime.date.today()} on {machine}, CPU only (no GPU). Workload: "
        f"`remove_background` on `examples/remove_background/sample.jpg` "
        f"({Image.open(IMAGE).size[0]}×{Image.open(IMAGE).size[1]} JPEG) → alpha PNG, posted to "
        f"`/invocations` by wrk (closed loop, one connection a client, {args.seconds} s a row). LibTorch "
        f"intra-op threads: {threads} in both Tandem (its default) and the in-process loop; one "
        "instance of each model.",
        "",
        "| contender | clients | img/s | p50 ms | p90 ms | p99 ms | errors | server CPU (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| Tandem | {r['concurrency']} | {r['throughput_rps']:.2f} | "
                     f"{r['p50_ms']:.0f} | {r['p90_ms']:.0f} | {r['p99_ms']:.0f} | "
                     f"{r['non_2xx']} | {r['server_cpu_cores']:.2f} |")
    for name in ("SageMaker PyTorch toolkit on TorchServe (default)",
                 "SageMaker PyTorch toolkit on TorchServe (tuned)",
                 "TorchServe with a batching handler", "Ray Serve"):
        lines.append(f"| {name} | — | not measured yet | | | | | |")
    lines += [
        "",
        "In-process limit (the same models and steps back to back, no server), images/s by the "
        "segmenter's batch size: " + ", ".join(f"{b}: {v:.2f}" for b, v in limit.items()) +
        f". Tandem's best is **{best:.2f} img/s = {best / limit[best_batch]:.2f} of the limit** "
        f"(batch {best_batch}; target ≥ 0.95).",
    ]
    write_doc_section("pipeline", "The seed workload on the CPU: Tandem against the limit",
                      "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
