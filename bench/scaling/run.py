"""Scaling benchmark (simulated): one sim model on 1, 2, 4 and 8 simulated GPUs under
closed-loop HTTP load from wrk, at several concurrencies.

Writes bench/results/scaling.json, bench/results/scaling.png and the table between the
`scaling` markers of docs/performance.md. Usage (after `make build`):
  .venv/bin/python bench/scaling/run.py [--seconds 8] [--devices 1,2,4,8]
      [--concurrency 32,128,512,1024]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from common import measure, write_doc_section  # noqa: E402

# One batch of b items occupies a sim device for LATENCY_US + PER_ITEM_US * b.
LATENCY_US, PER_ITEM_US, MAX_BATCH = 5000, 1000, 32
MODEL_YAML = f"""\
backend: sim
max_batch_size: {MAX_BATCH}
inputs: [{{name: x, datatype: FP32, shape: [4]}}]
outputs: [{{name: y, datatype: FP32, shape: [4]}}]
instances: [{{devices: sim, count: 1}}]
dynamic_batching: {{max_queue_delay_us: 2000}}
parameters: {{latency_us: {LATENCY_US}, per_item_us: {PER_ITEM_US}}}
"""
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}'
"""


def plot(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for c in sorted({r["concurrency"] for r in rows}):
        sel = [r for r in rows if r["concurrency"] == c]
        devices = [r["devices"] for r in sel]
        (line,) = ax1.plot(devices, [r["throughput_rps"] for r in sel], marker="o",
                           label=f"{c} clients")
        color = line.get_color()
        ax2.plot(devices, [r["p50_ms"] for r in sel], marker="o", color=color,
                 label=f"p50, {c} clients")
        ax2.plot(devices, [r["p99_ms"] for r in sel], marker="x", linestyle="--", color=color,
                 label=f"p99, {c} clients")
    ideal = [r for r in rows if r["devices"] == 1]
    if ideal:
        best_one = max(r["throughput_rps"] for r in ideal)
        xs = sorted({r["devices"] for r in rows})
        ax1.plot(xs, [best_one * x for x in xs], color="grey", linestyle=":", label="linear")
    ax1.set(xlabel="simulated GPUs", ylabel="requests / s", title="Throughput (simulated)")
    ax2.set(xlabel="simulated GPUs", ylabel="ms", title="Latency (simulated)", yscale="log")
    for ax in (ax1, ax2):
        ax.set_xticks(sorted({r["devices"] for r in rows}))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(rows: list[dict], machine: str) -> str:
    concurrencies = sorted({r["concurrency"] for r in rows})
    top = concurrencies[-1]
    one = max((r["throughput_rps"] for r in rows if r["devices"] == 1), default=float("nan"))
    lines = [
        f"*Simulated* GPUs, measured {datetime.date.today()} on {machine}. Sim model: batch of b "
        f"occupies its device {LATENCY_US} + {PER_ITEM_US}·b µs, max batch {MAX_BATCH}, "
        "dynamic batching with a 2 ms delay. Load: wrk, 2 threads, closed loop, one request "
        "(1×4 FP32, JSON) per round trip.",
        "",
        "| sim GPUs | clients | req/s | p50 ms | p99 ms | errors | scaling efficiency |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        eff = r["throughput_rps"] / (r["devices"] * one)
        lines.append(f"| {r['devices']} | {r['concurrency']} | {r['throughput_rps']:.0f} | "
                     f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_2xx']} | {eff:.2f} |")
    lines += ["", f"Scaling efficiency = throughput ÷ (devices × the best one-device throughput, "
              f"{one:.0f} req/s); the target is ≥ 0.95 at 8 devices at saturating concurrency "
              f"({top} clients here). One device's ceiling is "
              f"{MAX_BATCH / (LATENCY_US + PER_ITEM_US * MAX_BATCH) * 1e6:.0f} req/s at full "
              f"batches (1/per_item_us = {1e6 / PER_ITEM_US:.0f})."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--devices", default="1,2,4,8")
    parser.add_argument("--concurrency", default="32,128,512,1024")
    args = parser.parse_args()
    machine = f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})"

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = pathlib.Path(tmp) / "repo"
        (repo / "sim").mkdir(parents=True)
        (repo / "sim" / "model.yaml").write_text(MODEL_YAML)
        script = pathlib.Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)
        for n in [int(d) for d in args.devices.split(",")]:
            rows += measure(repo, ["--sim-gpus", str(n)], "sim", str(script),
                            [int(c) for c in args.concurrency.split(",")], args.seconds,
                            {"devices": n}, f"sim GPUs={n}")

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "scaling.json").write_text(json.dumps(
        {"simulated": True, "machine": machine, "date": str(datetime.date.today()),
         "model": {"latency_us": LATENCY_US, "per_item_us": PER_ITEM_US,
                   "max_batch_size": MAX_BATCH}, "rows": rows}, indent=1))
    plot(rows, results / "scaling.png")
    write_doc_section("scaling", "Scaling over simulated GPUs",
                      f"{table(rows, machine)}\n\n![scaling](../bench/results/scaling.png)")
    print(table(rows, machine))


if __name__ == "__main__":
    main()
