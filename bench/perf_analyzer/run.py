"""perf_analyzer against Tandem, over HTTP and gRPC side by side in one run, and wrk sending the
same HTTP requests, so the two yardsticks can be compared.

One server serves an identity model (4096 FP32 values in and out), the example classifier and
the example's remove_background pipeline (as `make run` serves them; a real JPEG as
perf_analyzer's --input-data). For each model and concurrency, in turn: perf_analyzer over HTTP,
perf_analyzer over gRPC, then wrk POSTing the very request perf_analyzer sends over HTTP (the
binary tensor extension, binary outputs). perf_analyzer measures in windows until three agree;
it also reports what the server's statistics say a request spent in it (queue, compute, and
the rest: "overhead").

Targets: gRPC ≥ HTTP throughput for binary tensors; perf_analyzer's HTTP throughput within 10%
of wrk's.

Writes bench/results/perf_analyzer.json and the `perf_analyzer` section of docs/performance.md.
Usage (`make bench-perf-analyzer`, after `make example`):
  python bench/perf_analyzer/run.py [--concurrency 1,4,16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import http.client
import json
import os
import pathlib
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from common import (EXAMPLE_REPOSITORY, copy_example, publish, run_wrk,  # noqa: E402
                    torchscript_identity, wrk_script)
from support.server import start_server  # noqa: E402

PERF_ANALYZER = ROOT / ".venv" / "bin" / "perf_analyzer"  # scripts/setup.sh installs it
IMAGE = ROOT / "examples" / "remove_background" / "sample.jpg"
DOC_TITLE = "perf_analyzer and wrk against Tandem: HTTP and gRPC"
IDENTITY_SIZE = 4096
# remove_background takes about half a second an image on 2 cores: fewer clients, windows
# counted in requests.
PIPELINE_CONCURRENCY = [1, 4]


def build_repository(root: pathlib.Path) -> pathlib.Path:
    """The example classifier and remove_background (compiled, as `make run` serves them) and an
    identity model."""
    copy_example(root, backend="aoti")
    shutil.copytree(EXAMPLE_REPOSITORY / "classifier", root / "classifier")
    (root / "identity" / "1").mkdir(parents=True)
    torchscript_identity(root / "identity" / "1" / "model.pt")
    (root / "identity" / "model.yaml").write_text(
        "backend: torchscript\nmax_batch_size: 8\n"
        f"inputs: [{{name: x, datatype: FP32, shape: [{IDENTITY_SIZE}]}}]\n"
        f"outputs: [{{name: y, datatype: FP32, shape: [{IDENTITY_SIZE}]}}]\n"
        "instances: [{devices: cpu, count: 1}]\n")
    return root


def binary_request(inputs: list[tuple[str, str, list[int], bytes]],
                   outputs: list[str]) -> tuple[bytes, dict[str, str]]:
    """The request perf_analyzer sends over HTTP: a JSON header (inputs in the binary extension,
    outputs asked for in binary) followed by the tensors' bytes."""
    header = json.dumps({
        "id": "",
        "inputs": [{"name": name, "datatype": dtype, "shape": shape,
                    "parameters": {"binary_data_size": len(data)}}
                   for name, dtype, shape, data in inputs],
        "outputs": [{"name": name, "parameters": {"binary_data": True}} for name in outputs]},
        separators=(",", ":")).encode()
    return header + b"".join(data for *_, data in inputs), {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream"}


def models(work: pathlib.Path) -> list[dict]:
    """What each model is measured with: perf_analyzer's arguments and wrk's request."""
    rng = np.random.default_rng(0)
    jpeg = IMAGE.read_bytes()
    bytes_element = struct.pack("<I", len(jpeg)) + jpeg  # a BYTES tensor's wire form
    input_data = work / "remove_background.json"
    # perf_analyzer takes a BYTES input's b64 content as the tensor's wire bytes.
    input_data.write_text(json.dumps({"data": [{"image_bytes": {
        "content": {"b64": base64.b64encode(bytes_element).decode()}, "shape": [1]}}]}))
    timed = ["--measurement-interval", "4000", "--stability-percentage", "15",
             "--max-trials", "10"]
    return [
        {"model": "identity", "concurrency": None, "args": timed,
         "request": binary_request(
             [("x", "FP32", [1, IDENTITY_SIZE],
               rng.random(IDENTITY_SIZE, dtype=np.float32).tobytes())], ["y"])},
        {"model": "classifier", "concurrency": None, "args": timed,
         "request": binary_request(
             [("image", "FP32", [1, 3, 32, 32],
               rng.random(3 * 32 * 32, dtype=np.float32).tobytes())], ["probabilities"])},
        {"model": "remove_background", "concurrency": PIPELINE_CONCURRENCY,
         "args": ["--input-data", str(input_data), "--measurement-mode", "count_windows",
                  "--stability-percentage", "25", "--max-trials", "8"],
         "count_per_client": 6,
         "request": binary_request([("image_bytes", "BYTES", [1], bytes_element)],
                                   ["alpha_png"])},
    ]


SERVER_LINE = re.compile(r"Avg request latency: (\d+) usec \(overhead (\d+) usec \+ queue (\d+) "
                         r"usec \+ compute input (\d+) usec \+ compute infer (\d+) usec \+ "
                         r"compute output (\d+) usec\)")


def perf_analyzer(url: str, protocol: str, spec: dict, concurrency: int,
                  work: pathlib.Path) -> dict:
    """One perf_analyzer run; its throughput, latency percentiles and the server's breakdown."""
    report = work / f"{spec['model']}-{protocol}-{concurrency}.csv"
    args = [str(PERF_ANALYZER), "-m", spec["model"], "-u", url, "-i", protocol,
            "--concurrency-range", str(concurrency), *spec["args"], "-f", str(report)]
    if "count_per_client" in spec:
        args += ["--measurement-request-count", str(spec["count_per_client"] * concurrency)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return {"error": (out.stdout + out.stderr).strip().splitlines()[-1]}
    [row] = list(csv.DictReader(report.open()))
    result = {"throughput_rps": float(row["Inferences/Second"]),
              "p50_ms": int(row["p50 latency"]) / 1e3, "p99_ms": int(row["p99 latency"]) / 1e3}
    if m := SERVER_LINE.search(out.stdout):
        request, overhead, queue, *compute = map(int, m.groups())
        result.update(server_request_us=request, server_overhead_us=overhead,
                      server_queue_us=queue, server_compute_us=sum(compute))
    return result


def drain(port: int, spec: dict) -> None:
    """wrk stops with up to `concurrency` requests still queued in the server: one more request
    waits behind them, so the next row starts from an idle server."""
    body, headers = spec["request"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", f"/v2/models/{spec['model']}/infer", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{spec['model']}: {response.status}")


def run(concurrencies: list[int], seconds: int) -> dict:
    if not PERF_ANALYZER.exists():
        sys.exit(f"{PERF_ANALYZER} is missing: run scripts/setup.sh")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        repository = build_repository(work / "repository")
        specs = models(work)
        server = start_server(repository)
        try:
            urls = {"http": f"127.0.0.1:{server.port}", "grpc": server.grpc_address}
            for spec in specs:
                script = wrk_script(work / f"{spec['model']}.lua", *spec["request"])
                for c in spec["concurrency"] or concurrencies:
                    row = {"model": spec["model"], "concurrency": c}
                    for protocol in ("http", "grpc"):
                        row[protocol] = perf_analyzer(urls[protocol], protocol, spec, c, work)
                    wrk_seconds = seconds if spec["concurrency"] is None else 3 * seconds
                    row["wrk"] = run_wrk(f"http://{urls['http']}/v2/models/{spec['model']}/infer",
                                         str(script), c, wrk_seconds)
                    drain(server.port, spec)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            server.stop()
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})",
        "perf_analyzer": subprocess.run([str(PERF_ANALYZER), "--version"], capture_output=True,
                                        text=True).stdout.strip(),
        "seconds": seconds, "identity_size": IDENTITY_SIZE, "rows": rows,
    }


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "—"


def latency(m: dict) -> str:
    return f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f}" if "p50_ms" in m else m.get("error", "—")


def report(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, `make "
        f"bench-perf-analyzer`, {results['perf_analyzer']}: one Tandem serving an identity "
        f"model ({results['identity_size']} FP32 in and out, max_batch_size 8, no dynamic "
        "batching), the example classifier and remove_background (the example's 301×207 JPEG "
        "as perf_analyzer's `--input-data`). For each row, in turn: perf_analyzer over HTTP, over gRPC (windows "
        "until three agree), then wrk sending perf_analyzer's own HTTP request (binary tensors "
        f"in and out) for {results['seconds']} s (three times that for remove_background). The "
        "load generators share the 2 cores with the server. Server overhead: what the server's "
        "statistics leave of a request once queue and compute are taken out, as perf_analyzer "
        "reports it.",
        "",
        "| model | clients | HTTP infer/s | gRPC infer/s | gRPC ÷ HTTP | wrk req/s | "
        "perf_analyzer HTTP ÷ wrk | p50 / p99 ms HTTP | gRPC | wrk | server overhead µs "
        "HTTP / gRPC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    grpc_ratios, agreement = [], []
    for r in results["rows"]:
        h, g, w = r["http"], r["grpc"], r["wrk"]
        ht, gt, wt = h.get("throughput_rps"), g.get("throughput_rps"), w["throughput_rps"]
        if ht and gt and r["model"] != "remove_background":
            grpc_ratios.append(gt / ht)
        if ht and wt:
            agreement.append(ht / wt)
        overhead = " / ".join(str(m.get("server_overhead_us", "—")) for m in (h, g))
        lines.append(
            f"| {r['model']} | {r['concurrency']} | {ht or 0:.1f} | {gt or 0:.1f} | "
            f"{ratio(gt, ht)} | {wt:.1f} | {ratio(ht, wt)} | {latency(h)} | {latency(g)} | "
            f"{w['p50_ms']:.2f} / {w['p99_ms']:.2f} | {overhead} |")
    lines.append("")
    if grpc_ratios:
        met = all(x >= 1.0 for x in grpc_ratios)
        lines.append(f"- gRPC ÷ HTTP throughput (identity and classifier): "
                     f"{min(grpc_ratios):.2f}×–{max(grpc_ratios):.2f}× (target ≥ 1.0×: "
                     f"{'met' if met else 'not met'}).")
    if agreement:
        met = all(abs(x - 1) <= 0.10 for x in agreement)
        lines.append(f"- perf_analyzer's HTTP throughput ÷ wrk's for the same requests: "
                     f"{min(agreement):.2f}×–{max(agreement):.2f}× (target within 10%: "
                     f"{'met' if met else 'not met'}).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the section from bench/results/perf_analyzer.json")
    args = parser.parse_args()
    if args.report_only:
        results = json.loads((ROOT / "bench" / "results" / "perf_analyzer.json").read_text())
    else:
        results = run([int(c) for c in args.concurrency.split(",")], args.seconds)
    publish("perf_analyzer", DOC_TITLE, results, report)


if __name__ == "__main__":
    main()
