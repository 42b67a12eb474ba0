"""The seed workload against what users run today, side by side on this machine.

remove_background (JPEG in, alpha PNG out; segmenter input 160×160, see contenders/steps.py)
through each server started the way its docs say and warmed up:
  - the SageMaker PyTorch inference toolkit on TorchServe, with the seed's inference.py, once
    with default settings and once tuned (workers, threads);
  - TorchServe with a batching handler running the same pipeline;
  - Ray Serve: two model deployments composed with .bind(), the segmenter under @serve.batch;
  - the example's handler.py as a plain WSGI app on gunicorn (what a team runs without a model
    server);
  - Tandem: examples/repository's remove_background pipeline, as configured there and tuned for
    the CPU (instances against intra-op threads, as the toolkit's tuned run), and with its pre-
    and post-processing in two TorchScript glue models instead of the built-in ops
    (contenders/glue.py, what users wrote before those ops existed), and with its two models
    as AOTInductor packages of the same weights (backend: aoti);
against the limit: the same two models' forward passes alone, called back to back from C++
(bench/pipeline/forward_limit.cc; no decode, no pre- or post-processing), at the best batch
size and threading. Load: wrk, closed loop, concurrency 1..32. Then the overhead scenario: an identity
model on 16 floats through each server against a direct in-process call loop. Then the
one-client comparisons that are targets again, in alternating rounds with Tandem and its rivals
served at once, the idle ones paused (the machine drifts between rows measured minutes apart).

Every contender's PNG for the sample image is checked against Tandem's before it is measured.

Writes bench/results/pipeline.{json,csv,png} and the `pipeline` section of docs/performance.md.
Usage (`make bench-pipeline` installs the contenders and runs this):
  .venv-bench/bin/python bench/pipeline/run.py [--seconds 12] [--concurrency 1,2,4,8,16,32]
      [--only tandem,torchserve,...] [--rounds 8] [--round-seconds 8] [--report-only]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(HERE / "contenders"))
sys.path.insert(0, str(HERE))
import steps  # noqa: E402
from common import run_wrk, wrk_script, write_doc_section  # noqa: E402
from servers import (IDENTITY_VALUES, IMAGE, STARTERS, Server, Target,  # noqa: E402
                     prepare_models, start_toolkit)

IDENTITY_CONCURRENCY = (1, 16)
DOC_TITLE = "The seed workload on the CPU: Tandem against what users run today"


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy, from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- measuring --------------------------------------------------------------------------------

def in_process_limit(models: pathlib.Path, batch: int, seconds: float,
                     suffix: str) -> dict[str, float]:
    """Images per second through the segmenter and the matting net alone, called back to back
    from C++ through LibTorch (`forward_limit`, built beside `tandem`): inputs made once, no
    decode, no pre- or post-processing, no server, `batch` images to a segmenter call. Threaded
    three ways: one loop with an intra-op thread a core; a single-threaded loop a core (each
    loop with its own copy of the models, as Tandem's instances have); and each model alone on
    a single-threaded loop a core, combined as 1 / (1/segmenter + 1/matting), which is what
    threads that each run one model could reach (a model alone keeps its core's caches). Every
    contender runs at least these two forward passes an image, so none can pass the best.
    `suffix`: the models' format, .pt (TorchScript) or .pt2 (AOTInductor packages)."""
    tool = pathlib.Path(os.environ.get("TANDEM_BIN", ROOT / "build" / "tandem")).parent / \
        "bench" / "forward_limit"
    width, height = Image.open(IMAGE).size
    cores = os.cpu_count()
    def run(loops: int, threads: int, which: str) -> float:
        result = subprocess.run(
            [str(tool), str(models / f"segmenter{suffix}"), str(models / f"matting{suffix}"),
             str(steps.SIZE), str(height), str(width), str(batch), str(loops), str(seconds),
             which],
            capture_output=True, text=True, check=True,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        return float(result.stdout.strip())

    alone = [run(cores, 1, which) for which in ("segmenter", "matting")]
    return {"one loop": run(1, cores, "both"), "a loop a core": run(cores, 1, "both"),
            "a model a thread": 1 / sum(1 / x for x in alone)}


# The formats whose limits are measured: TorchScript always, the packages for the compiled
# contender (whose models are faster than the TorchScript limit allows).
LIMIT_SUFFIXES = {"torchscript": ".pt", "aoti": ".pt2"}


def measure_limits(models: pathlib.Path, formats: list[str],
                   before: dict | None = None) -> dict[str, dict[int, dict[str, float]]]:
    """Each format's limit by batch size and threading; with `before` (the same measured
    earlier: this machine's speed drifts by 10-15% over minutes), the faster of the two."""
    limits = {}
    for fmt in formats:
        by_batch = {b: in_process_limit(models, b, 8, LIMIT_SUFFIXES[fmt]) for b in (1, 2, 4)}
        if before:
            by_batch = {b: {k: max(v, before[fmt][b][k]) for k, v in by.items()}
                        for b, by in by_batch.items()}
        print(f"in-process limit ({fmt}), images/s by batch size:", by_batch, flush=True)
        limits[fmt] = by_batch
    return limits


def limit_summary(by_threading: dict[int, dict[str, float]]) -> dict:
    images_per_s = {b: max(by.values()) for b, by in by_threading.items()}
    best_batch = max(images_per_s, key=images_per_s.get)
    return {"images_per_s": images_per_s, "by_threading": by_threading, "best_batch": best_batch,
            "best_images_per_s": images_per_s[best_batch]}


def in_process_identity(models: pathlib.Path, seconds: float) -> float:
    """Calls a second of the identity model on 16 floats, from a Python loop."""
    model = torch.jit.load(str(models / "identity.pt"))
    x = torch.tensor(IDENTITY_VALUES)
    done, start = 0, time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - start < seconds:
            for _ in range(1000):
                model(x)
            done += 1000
    return done / (time.perf_counter() - start)


def same_matte(png: bytes, reference: bytes, levels: int = 2, share: float = 0.99) -> bool:
    """Alpha mattes agree when at least `share` of their pixels are within `levels` levels; by
    default 99% within 2 (the same models on the same CPU, with resize and rounding differences
    between the servers' steps)."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(reference)).convert("L"), dtype=np.int16)
    return a.shape == b.shape and float(np.mean(np.abs(a - b) <= levels)) >= share


def sweep(server: Server, target: Target, concurrencies: list[int], seconds: int,
          work: pathlib.Path, scenario: str) -> list[dict]:
    script = wrk_script(work / f"{scenario}.lua", target.body, target.headers)
    rows = []
    for c in concurrencies:
        before = (time.perf_counter(), busy_cpu_seconds(), children_cpu_seconds())
        result = run_wrk(server.url(target), str(script), c, seconds)
        wall = time.perf_counter() - before[0]
        wrk_cpu = children_cpu_seconds() - before[2]
        server_cpu = (busy_cpu_seconds() - before[1] - wrk_cpu) / wall
        # A closed loop leaves up to `c` requests queued in the server when wrk stops; one more
        # request waits behind them, so the next row starts from an idle server.
        server.post(target, timeout=300)
        row = {"scenario": scenario, "contender": server.name, "concurrency": c,
               "server_cpu_cores": round(server_cpu, 2), **result}
        rows.append(row)
        print(f"{scenario:>8} {server.name:<44} c={c:<3} {result['throughput_rps']:9.2f}/s  "
              f"p50={result['p50_ms']:.1f} p90={result['p90_ms']:.1f} "
              f"p99={result['p99_ms']:.1f} ms  errors={result['non_2xx']}+{result['failed']}  "
              f"cpu={server_cpu:.2f}", flush=True)
    return rows


def measure(key: str, models: pathlib.Path, reference: bytes | None, args) -> tuple[dict, bytes]:
    """Starts contender `key`, checks its answer, sweeps the pipeline (and identity), stops it."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{key}-") as tmp:
        work = pathlib.Path(tmp)
        server = STARTERS[key](work, models)
        started = time.perf_counter()
        try:
            png = server.wait_until_serving()
            print(f"{server.name}: serving after {time.perf_counter() - started:.0f} s", flush=True)
            if reference is not None and not same_matte(png, reference):
                raise RuntimeError(f"{server.name}'s matte differs from Tandem's")
            # The glue computes what the built-in ops compute, in other code: the same pixels.
            if key == "tandem-glue" and not same_matte(png, reference, levels=0, share=1.0):
                raise RuntimeError(f"{server.name}'s matte is not Tandem's, pixel for pixel")
            for _ in range(3):  # warm-up beyond the first answer
                server.post(server.pipeline)
            rows = sweep(server, server.pipeline, args.concurrency, args.seconds, work, "pipeline")
            if key in ("tandem", "torchserve", "ray"):  # one overhead row set a server
                rows += sweep(server, server.identity, IDENTITY_CONCURRENCY, args.identity_seconds,
                              work, "identity")
        finally:
            server.stop()
    if key == "toolkit-default":
        rows += measure_toolkit_identity(models, args)
    return {"name": server.name, "settings": server.settings, "rows": rows}, png


# The one-client comparisons that are targets: Tandem against these, in alternating rounds.
ONE_CLIENT_RIVALS = ("toolkit-default", "handler-gunicorn", "tandem-glue")


def one_client_rounds(keys: list[str], models: pathlib.Path, reference: bytes, args) -> dict:
    """Tandem and its one-client rivals served at once and loaded in turn, one client at a time,
    `args.rounds` rounds of `args.round_seconds` each. Rows measured minutes apart see a machine
    whose speed drifts by 10-15%; in adjacent rounds both sides of a ratio see the same one, and
    the servers not being measured are paused (SIGSTOP), so that they cost the one being measured
    nothing, not even timers and heartbeats. Returns each contender's img/s a round and, for
    each rival, the median over rounds of Tandem's img/s ÷ the rival's."""
    keys = ["tandem"] + [k for k in ONE_CLIENT_RIVALS if k in keys]
    with tempfile.TemporaryDirectory(prefix="bench-one-client-") as tmp:
        servers = {}
        try:
            for key in keys:
                (pathlib.Path(tmp) / key).mkdir()
                servers[key] = STARTERS[key](pathlib.Path(tmp) / key, models)
            for key, server in servers.items():
                if not same_matte(server.wait_until_serving(), reference):
                    raise RuntimeError(f"{server.name}'s matte differs from Tandem's")
                for _ in range(3):
                    server.post(server.pipeline)
            scripts = {key: wrk_script(pathlib.Path(tmp) / key / "one.lua", s.pipeline.body,
                                       s.pipeline.headers) for key, s in servers.items()}
            rounds = {key: [] for key in keys}
            for server in servers.values():
                server.pause()
            for r in range(args.rounds):
                for key, server in servers.items():
                    server.resume()
                    server.post(server.pipeline)  # the first answer after a pause is not timed
                    result = run_wrk(server.url(server.pipeline), str(scripts[key]), 1,
                                     args.round_seconds)
                    server.pause()
                    rounds[key].append(result["throughput_rps"])
                print(f"one client, round {r + 1}: " + ", ".join(
                    f"{key} {v[-1]:.2f}/s" for key, v in rounds.items()), flush=True)
        finally:
            for server in servers.values():
                server.resume()
                server.stop()
    return {"names": {key: s.name for key, s in servers.items()}, "images_per_s": rounds,
            "round_seconds": args.round_seconds,
            "ratio": {key: statistics.median(t / o for t, o in zip(rounds["tandem"], rounds[key]))
                      for key in keys[1:]}}


def measure_toolkit_identity(models: pathlib.Path, args) -> list[dict]:
    """The toolkit serves one model a process, so the identity model gets a start of its own."""
    with tempfile.TemporaryDirectory(prefix="bench-toolkit-identity-") as tmp:
        work = pathlib.Path(tmp)
        server = start_toolkit(work, models, tuned=False, identity=True)
        try:
            server.wait_until_serving()
            return sweep(server, server.identity, IDENTITY_CONCURRENCY, args.identity_seconds,
                         work, "identity")
        finally:
            server.stop()


# --- reporting ----------------------------------------------------------------------------------

def plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for contender in results["contenders"]:
        rows = [r for r in contender["rows"] if r["scenario"] == "pipeline"]
        clients = [r["concurrency"] for r in rows]
        left.plot(clients, [r["throughput_rps"] for r in rows], marker="o",
                  label=contender["name"])
        right.plot(clients, [r["p99_ms"] / 1000 for r in rows], marker="o",
                   label=contender["name"])
    left.axhline(results["limit"]["best_images_per_s"], color="grey", linestyle="--",
                 label="in-process limit")
    if results.get("compiled_limit"):
        left.axhline(results["compiled_limit"]["best_images_per_s"], color="grey",
                     linestyle=":", label="in-process limit, compiled models")
    for ax, label in ((left, "images / s"), (right, "p99 latency (s)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=7)
    fig.suptitle(f"remove_background on {results['machine']} (CPU), {results['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def best(contender: dict, scenario: str) -> dict:
    return max((r for r in contender["rows"] if r["scenario"] == scenario),
               key=lambda r: r["throughput_rps"])


def at(contender: dict, scenario: str, concurrency: int) -> dict | None:
    return next((r for r in contender["rows"]
                 if r["scenario"] == scenario and r["concurrency"] == concurrency), None)


def limit_text(limit: dict) -> str:
    return ", ".join(
        f"{b}: {v:.2f} (" + ", ".join(f"{k} {x:.2f}" for k, x in
                                      limit.get("by_threading", {}).get(b, {}).items()) + ")"
        for b, v in limit["images_per_s"].items())


def report(results: dict) -> str:
    by_name = {c["key"]: c for c in results["contenders"]}
    limit = results["limit"]
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, all contenders one after "
        f"another in one run of `make bench-pipeline` ({results['minutes']:.1f} min). Workload: "
        f"`examples/remove_background/sample.jpg` ({results['image']}) → alpha PNG, segmenter "
        f"input {steps.SIZE}×{steps.SIZE} (the example serves 320×320; smaller here so that the "
        f"sweep fits the time budget). Load: wrk, closed loop, one keep-alive connection a client, "
        f"{results['seconds']} s a row, each row starting from an idle server. Server CPU = the machine's "
        "busy CPU during the row minus wrk's own. Every contender's PNG for the sample image was "
        "checked against Tandem's (≥ 99% of pixels within 2 levels) before it was measured. "
        "A row holds about 50 answers, so its p99 is close to its slowest answer."
        + (f" The one-client targets are also measured with Tandem and its rivals served at "
           f"once and loaded in turn, {len(results['one_client']['images_per_s']['tandem'])} "
           f"rounds of {results['one_client']['round_seconds']} s each, so that both sides of "
           "a ratio see the machine at the same minute." if results.get("one_client") else ""),
        "",
        "| contender | clients | img/s | p50 ms | p90 ms | p99 ms | answered | errors | "
        "timeouts | server CPU (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in results["contenders"]:
        for r in (r for r in c["rows"] if r["scenario"] == "pipeline"):
            lines.append(f"| {c['name']} | {r['concurrency']} | {r['throughput_rps']:.2f} | "
                         f"{r['p50_ms']:.0f} | {r['p90_ms']:.0f} | {r['p99_ms']:.0f} | "
                         f"{r['requests']} | {r['non_2xx']} | {r['failed']} | "
                         f"{r['server_cpu_cores']:.2f} |")
    lines += [
        "",
        "In-process limit (the segmenter and the matting net alone, called back to back from C++ "
        "through LibTorch on inputs made once: no decode, no pre- or post-processing, no server; "
        "the best of one loop with a thread a core, a single-threaded loop a core, and each "
        "model alone on a single-threaded loop a core, combined), images/s by the segmenter's "
        "batch size: " + limit_text(limit) + "."
        + (" The same for the compiled models (AOTInductor packages of the same weights): "
           + limit_text(results["compiled_limit"]) + "." if results.get("compiled_limit") else ""),
        "",
        "Thread settings (the machine has 2 cores):",
        "",
    ]
    lines += [f"- {c['name']}: {c['settings']}." for c in results["contenders"]]
    lines += ["- In-process limits: one loop with 2 intra-op threads; 2 loops (threads, each "
              "with its own models) with 1 intra-op thread each; or each model alone on 2 such "
              "loops, combined; whichever serves most.", ""]

    lines += ["**Overhead: an identity model on 16 FP32 values** (JSON in and out; Tandem speaks "
              f"v2, the others their own JSON), {results['identity_seconds']} s a row. Limit: the "
              f"model called from a Python loop in-process, {results['identity_limit']:.0f} "
              "calls/s.", "",
              "| contender | clients | req/s | p50 ms | p99 ms | errors | server CPU (cores) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in results["contenders"]:
        for r in (r for r in c["rows"] if r["scenario"] == "identity"):
            lines.append(f"| {c['name']} | {r['concurrency']} | {r['throughput_rps']:.0f} | "
                         f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} | "
                         f"{r['server_cpu_cores']:.2f} |")
    lines += ["", "**Against the targets**", ""]
    tandem = by_name.get("tandem")
    # Each Tandem against the limit of its models' format.
    for keys, fmt_limit, label in ((("tandem", "tandem-tuned"), limit, "in-process limit"),
                                   (("tandem-compiled",), results.get("compiled_limit"),
                                    "compiled models' in-process limit")):
        tandems = [by_name[k] for k in keys if k in by_name]
        if not tandems or not fmt_limit:
            continue
        t = max((best(c, "pipeline") for c in tandems), key=lambda r: r["throughput_rps"])
        lines.append(f"- Tandem's best, {t['throughput_rps']:.2f} img/s ({t['contender']}, "
                     f"{t['concurrency']} clients), is **"
                     f"{t['throughput_rps'] / fmt_limit['best_images_per_s']:.2f} of the "
                     f"{label}** ({fmt_limit['best_images_per_s']:.2f} img/s at batch "
                     f"{fmt_limit['best_batch']}; target ≥ 0.95).")
    # Default against default, tuned against tuned.
    for mine_key, key, target in (("tandem", "toolkit-default", 1.5),
                                  ("tandem-tuned", "toolkit-tuned", 1.0),
                                  ("tandem-compiled", "toolkit-default", 1.5)):
        mine, other = by_name.get(mine_key), by_name.get(key)
        if not mine or not other:
            continue
        ratio = best(mine, "pipeline")["throughput_rps"] / best(other, "pipeline")["throughput_rps"]
        pairs = [(r, o) for r in mine["rows"] if r["scenario"] == "pipeline"
                 for o in [at(other, "pipeline", r["concurrency"])] if o]
        lines.append(
            f"- {mine['name']} against the {other['name']}: best throughput against best "
            f"**{ratio:.2f}×** (target ≥ {target}×); at equal load (clients: throughput ratio, "
            "p99 ms of each): " + ", ".join(
                f"{r['concurrency']}: {r['throughput_rps'] / o['throughput_rps']:.2f}×, "
                f"{r['p99_ms']:.0f} vs {o['p99_ms']:.0f}" for r, o in pairs) + ".")
    # One client, where most real-time endpoints live, and the plain handler app: the ratio of
    # the alternating rounds, and the sweep's rows beside it.
    one = results.get("one_client")
    for key, target in (("toolkit-default", 1.05), ("handler-gunicorn", 1.0),
                        ("tandem-glue", None)):
        mine, other = tandem and at(tandem, "pipeline", 1), by_name.get(key)
        theirs = other and at(other, "pipeline", 1)
        if not (one and key in one["ratio"]) and not (mine and theirs):
            continue
        parts = []
        if one and key in one["ratio"]:
            name = one["names"][key]
            parts.append(f"**{one['ratio'][key]:.2f}×** in {len(one['images_per_s'][key])} "
                         "alternating rounds (the median of the rounds' ratios; img/s a round "
                         f"{statistics.median(one['images_per_s']['tandem']):.2f} against "
                         f"{statistics.median(one['images_per_s'][key]):.2f})")
        else:
            name = other["name"]
        if mine and theirs:
            parts.append(f"the sweep's rows {mine['throughput_rps'] / theirs['throughput_rps']:.2f}×"
                         f", p50 {mine['p50_ms']:.0f} vs {theirs['p50_ms']:.0f} ms")
        lines.append(f"- At one client, Tandem against {name}: " + "; ".join(parts) +
                     (f" (target ≥ {target}×)." if target else "."))
    if tandem and "handler-gunicorn" in by_name:
        other = by_name["handler-gunicorn"]
        ratio = best(tandem, "pipeline")["throughput_rps"] / best(other, "pipeline")["throughput_rps"]
        lines.append(f"- Best against best, Tandem against the {other['name']}: "
                     f"**{ratio:.2f}×** (target ≥ 1.05×).")
    if tandem and "tandem-glue" in by_name:
        glue = by_name["tandem-glue"]
        ratio = best(tandem, "pipeline")["throughput_rps"] / best(glue, "pipeline")["throughput_rps"]
        lines.append(
            f"- Built-in ops against {glue['name']} (the same pipeline with its pre- and "
            "post-processing in TorchScript, the same output): best against best "
            f"**{ratio:.2f}×** (one client: above).")
    if tandem and "torchserve" in by_name:
        for c in IDENTITY_CONCURRENCY:
            mine, theirs = at(tandem, "identity", c), at(by_name["torchserve"], "identity", c)
            if mine and theirs:
                lines.append(
                    f"- Identity model at {c} client{'s' if c > 1 else ''}: Tandem "
                    f"**{mine['throughput_rps'] / theirs['throughput_rps']:.1f}×** "
                    f"TorchServe's throughput (target ≥ 10×), p50 "
                    f"**{mine['p50_ms'] / theirs['p50_ms']:.2f}** of TorchServe's "
                    "(target ≤ 0.2).")
    lines += ["", "![pipeline](../bench/results/pipeline.png)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=12, help="seconds a pipeline row")
    parser.add_argument("--identity-seconds", type=int, default=8, help="seconds an identity row")
    parser.add_argument("--concurrency", default="1,2,4,8,16,32")
    parser.add_argument("--only", default=",".join(STARTERS),
                        help="contenders to run, of: " + ", ".join(STARTERS))
    parser.add_argument("--rounds", type=int, default=8,
                        help="alternating one-client rounds of Tandem and its rivals (0: none)")
    parser.add_argument("--round-seconds", type=int, default=8)
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: redo the plot and the doc from pipeline.json")
    args = parser.parse_args()
    out = ROOT / "bench" / "results"
    if args.report_only:
        results = json.loads((out / "pipeline.json").read_text())
        plot(results, out / "pipeline.png")
        write_doc_section("pipeline", DOC_TITLE, report(results))
        return
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if not IMAGE.exists():
        sys.exit("run `make example` first (it exports the models and the sample image)")
    started = time.perf_counter()
    torch.set_num_threads(os.cpu_count())
    machine = f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})"

    keys = args.only.split(",")
    formats = ["torchscript"] + (["aoti"] if "tandem-compiled" in keys else [])
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        models = prepare_models(pathlib.Path(tmp), compiled="aoti" in formats)
        # This machine's speed drifts by 10-15% over minutes, so the limits are measured before
        # and after the contenders, and the faster of the two counts.
        limits = measure_limits(models, formats)
        identity_limit = in_process_identity(models, 3)
        # Tandem first: its PNG is the reference every other contender's is checked against.
        order = (["tandem"] if "tandem" in keys else []) + [k for k in keys if k != "tandem"]
        contenders, reference = [], None
        for key in order:
            contender, png = measure(key, models, reference, args)
            reference = reference or png
            contenders.append({"key": key, **contender})
        if args.rounds and "tandem" in keys:
            one_client = one_client_rounds(keys, models, reference, args)
        limits = measure_limits(models, formats, before=limits)

    order_in_doc = [k for k in STARTERS if k in keys]
    results = {
        "machine": machine, "date": str(datetime.date.today()),
        "image": f"{Image.open(IMAGE).size[0]}×{Image.open(IMAGE).size[1]} JPEG",
        "segmenter_size": steps.SIZE, "minutes": (time.perf_counter() - started) / 60,
        "seconds": args.seconds, "identity_seconds": args.identity_seconds,
        "limit": limit_summary(limits["torchscript"]),
        "compiled_limit": limit_summary(limits["aoti"]) if "aoti" in limits else None,
        "identity_limit": identity_limit,
        "one_client": one_client if args.rounds and "tandem" in keys else None,
        "contenders": sorted(contenders, key=lambda c: order_in_doc.index(c["key"])),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(results, indent=1))
    with (out / "pipeline.csv").open("w", newline="") as f:
        rows = [r for c in results["contenders"] for r in c["rows"]]
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(results, out / "pipeline.png")
    text = report(results)
    write_doc_section("pipeline", DOC_TITLE, text)
    print(text)
    print(f"bench-pipeline took {results['minutes']:.1f} min")


if __name__ == "__main__":
    main()
