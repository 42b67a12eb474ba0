"""Models that come and go while serving: the example repository (its compiled packages, as
`make run` serves them) in model control mode explicit, measured three ways in one run:

  - reloads under load: clients on the classifier (the "other model") and on remove_background,
    closed loop, while the segmenter is reloaded 20 times (each reload builds and warms the new
    version beside the old, swaps, drains the old one); against the same clients with no
    reloads, before and after. Target: no failed request; the classifier's p99 during the
    reloads ≤ 1.2× its p99 without them (medians over alternating rounds).
  - load time: the segmenter from the load request to its answer (READY, warmed up).
  - memory: 200 load → infer → unload cycles of the classifier; the server's resident memory
    after the first 10 and after the last.

Writes bench/results/reload.json and the `reload` section of docs/performance.md.
Usage (`make bench-reload`): python bench/reload/run.py [--seconds 15] [--pairs 3]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time


HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from common import EXAMPLE_REPOSITORY, publish  # noqa: E402
from http_load import closed_loop  # noqa: E402
from support.server import start_server  # noqa: E402

IMAGE = ROOT / "examples" / "remove_background" / "sample.jpg"
CLASSIFIER = json.dumps({"inputs": [{"name": "image", "datatype": "FP32",
                                     "shape": [1, 3, 32, 32], "data": [0.5] * 3072}]}).encode()
DOC_TITLE = "Models that come and go: reloads under load, load time, memory over cycles"
RELOADS, CYCLES = 20, 200


def control(port: int, model: str, action: str) -> tuple[int, float]:
    """POST .../{model}/{action}; returns the status and the seconds it took."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", f"/v2/repository/models/{model}/{action}", body=b"")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"{action} {model}: {r.status} {body[:300]!r}")
    return r.status, time.perf_counter() - start


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def loaded_round(port: int, seconds: int, reload: bool) -> dict:
    """The classifier (2 clients) and remove_background (1 client) under closed-loop load for
    `seconds`, with the segmenter reloaded RELOADS times meanwhile when `reload`."""
    results = {}

    def load(key, path, body, headers, clients):
        results[key] = closed_loop(port, path, body, headers, clients, seconds)

    threads = [
        threading.Thread(target=load, args=("classifier", "/v2/models/classifier/infer",
                                            CLASSIFIER, {"Content-Type": "application/json"}, 2)),
        threading.Thread(target=load, args=(
            "remove_background", "/invocations", IMAGE.read_bytes(),
            {"Content-Type": "image/jpeg", "Accept": "image/png",
             "X-Amzn-SageMaker-Target-Model": "remove_background"}, 1)),
    ]
    for t in threads:
        t.start()
    reload_s = []
    if reload:
        time.sleep(0.5)
        # Spread the reloads over the round, leaving its last second without one.
        gap = max(0.0, (seconds - 1.5) / RELOADS)
        for _ in range(RELOADS):
            reload_s.append(control(port, "segmenter", "load")[1])
            time.sleep(max(0.0, gap - reload_s[-1]))
    for t in threads:
        t.join()
    return {**results, "reload_seconds": reload_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="seconds a round")
    parser.add_argument("--pairs", type=int, default=3,
                        help="rounds without and with reloads, alternating, this many of each")
    args = parser.parse_args()
    if not IMAGE.exists():
        sys.exit("run `make example` first (it exports the models and the sample image)")
    with tempfile.TemporaryDirectory() as tmp:
        repo = pathlib.Path(tmp)
        for name in ("classifier", "segmenter", "matting", "remove_background"):
            shutil.copytree(EXAMPLE_REPOSITORY / name, repo / name)
        server = start_server(repo, "--model-control-mode", "explicit", "--load-model", "*")
        try:
            rounds = [loaded_round(server.port, args.seconds, reload)
                      for _ in range(args.pairs) for reload in (False, True)]
            load_s = []
            for _ in range(3):
                control(server.port, "remove_background", "unload")
                control(server.port, "segmenter", "unload")
                load_s.append(control(server.port, "segmenter", "load")[1])
                control(server.port, "remove_background", "load")
            rss = {}
            for cycle in range(CYCLES):
                control(server.port, "classifier", "load")
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                conn.request("POST", "/v2/models/classifier/infer", body=CLASSIFIER)
                assert conn.getresponse().status == 200
                control(server.port, "classifier", "unload")
                if cycle + 1 in (10, CYCLES):
                    rss[str(cycle + 1)] = rss_mib(server.process.pid)
        finally:
            server.stop()
    results = {"machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})",
               "date": str(datetime.date.today()), "seconds": args.seconds, "rounds": rounds,
               "segmenter_load_s": load_s, "rss_mib": rss}
    publish("reload", DOC_TITLE, results, report)


def report(results: dict) -> str:
    rounds = results["rounds"]
    quiet = [r for r in rounds if not r["reload_seconds"]]
    busy = [r for r in rounds if r["reload_seconds"]]
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, `make bench-reload`: the "
        "example repository (its compiled packages) in model control mode explicit; closed-loop "
        "clients on the classifier (2) and on remove_background (1), rounds of "
        f"{results['seconds']} s alternating without and with {RELOADS} reloads of the segmenter.",
        "", "| round | classifier req/s | classifier p50 ms | classifier p99 ms | "
        "remove_background img/s | failed requests | reload s (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, r in enumerate(rounds):
        c, p = r["classifier"], r["remove_background"]
        reload = f"{statistics.median(r['reload_seconds']):.2f}" if r["reload_seconds"] else "–"
        lines.append(f"| {i + 1}, {'reloads' if r['reload_seconds'] else 'none'} | "
                     f"{c['throughput_rps']:.0f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | "
                     f"{p['throughput_rps']:.2f} | {c['errors'] + p['errors']} | {reload} |")
    failed = sum(r["classifier"]["errors"] + r["remove_background"]["errors"] for r in rounds)
    # Medians over the rounds: one p99 of a round is about its 100th-slowest answer, and one
    # burst on the machine moves it.
    p99_quiet = statistics.median(r["classifier"]["p99_ms"] for r in quiet)
    p99_busy = statistics.median(r["classifier"]["p99_ms"] for r in busy)
    rss = results["rss_mib"]
    lines += [
        "", f"- Failed requests during {RELOADS * len(busy)} reloads: **{failed}** (target 0).",
        f"- The classifier's p99 during reloads: **{p99_busy / p99_quiet:.2f}×** its p99 without "
        f"them (medians of the rounds, {p99_busy:.1f} against {p99_quiet:.1f} ms; target "
        "≤ 1.2×).",
        f"- Loading the segmenter, from the request to its answer (READY, warmed up): "
        f"{statistics.median(results['segmenter_load_s']):.2f} s (median of 3).",
        f"- {CYCLES} load → infer → unload cycles of the classifier: resident memory "
        f"{rss['10']:.0f} MiB after 10, {rss[str(CYCLES)]:.0f} MiB after {CYCLES} "
        f"({rss[str(CYCLES)] - rss['10']:+.0f} MiB).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
