"""perf_analyzer against Tandem, over HTTP and gRPC side by side in one run, and wrk sending the
same HTTP requests, so the two yardsticks can be compared.

One server serves an identity model (4096 FP32 values in and out), the example classifier and
the example's remove_background pipeline (as `make run` serves them, compiled for the server's
cores where there is no GPU; a real JPEG as perf_analyzer's --input-data). For each model and
concurrency, in alternating rounds: perf_analyzer over HTTP, perf_analyzer over gRPC, then wrk
POSTing the very request perf_analyzer sends over HTTP (the binary tensor extension, binary
outputs). perf_analyzer measures in windows of a set count of requests until three agree; it
also reports what the server's statistics say a request spent in it (queue, compute, and the
rest: "overhead"). The server runs on one half of the cores and the load generators on the
other, and the CPU time each spends per request is reported.

Targets: gRPC ≥ HTTP throughput for binary tensors; perf_analyzer's HTTP throughput within 10%
of wrk's.

Writes bench/results/perf_analyzer.json and the `perf_analyzer` section of docs/performance.md,
or, with --out, that JSON file only (scripts/gpu-check: `--models classifier --no-wrk --rounds 1`,
with the classifier on the machine's GPU, as `make example` compiled it there).
Usage (`make bench-perf-analyzer`, after `make example`):
  python bench/perf_analyzer/run.py [--concurrency 1,4,16] [--seconds 10] [--rounds 3]
      [--models a,b] [--no-wrk] [--out FILE]
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import http.client
import importlib.util
import json
import os
import pathlib
import platform
import re
import resource
import shutil
import statistics
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

# scripts/setup.sh installs it; scripts/gpu-check names its own.
PERF_ANALYZER = pathlib.Path(os.environ.get("PERF_ANALYZER", ROOT / ".venv" / "bin" / "perf_analyzer"))
IMAGE = ROOT / "examples" / "remove_background" / "sample.jpg"
DOC_TITLE = "perf_analyzer and wrk against Tandem: HTTP and gRPC"
IDENTITY_SIZE = 4096
# remove_background takes about half a second an image on 2 cores: fewer clients, windows
# counted in requests.
PIPELINE_CONCURRENCY = [1, 4]


def compiled_example(example: str, threads: int) -> pathlib.Path:
    """The folder of examples/<example>'s CPU packages compiled for `threads` threads (its
    export.py's `compiled`, cached in ~/.cache/tandem)."""
    folder = ROOT / "examples" / example
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the example's own imports
    spec = importlib.util.spec_from_file_location(f"{example}_export", folder / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compiled("cpu", threads)


def build_repository(root: pathlib.Path, threads: int) -> pathlib.Path:
    """The example classifier and remove_background (compiled, as `make run` serves them) and an
    identity model. Without a GPU, the packages are compiled for `threads` threads, the server's
    cores: `make example` compiles them for all of the machine's, and a package's fused kernels
    run on the threads it was compiled for, so on fewer cores they would wait for each other
    (the classifier served 4 400 req/s on one core so, 6 800 compiled for one thread)."""
    copy_example(root, backend="aoti")
    shutil.copytree(EXAMPLE_REPOSITORY / "classifier", root / "classifier")
    import torch

    if not torch.cuda.is_available():
        for example, names in (("classifier", ["classifier"]),
                               ("remove_background", ["segmenter", "matting"])):
            packages = compiled_example(example, threads)
            for model in names:
                shutil.copy(packages / model / "1" / "model.pt2", root / model / "1" / "model.pt2")
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
    # Windows of a fixed count of requests: in time windows at several thousand requests a
    # second, perf_analyzer's own bookkeeping falls behind (gigabytes, minutes).
    counted = ["--measurement-mode", "count_windows", "--measurement-request-count", "4000",
               "--stability-percentage", "15", "--max-trials", "10"]
    return [
        {"model": "identity", "concurrency": None, "args": counted,
         "request": binary_request(
             [("x", "FP32", [1, IDENTITY_SIZE],
               rng.random(IDENTITY_SIZE, dtype=np.float32).tobytes())], ["y"])},
        {"model": "classifier", "concurrency": None, "args": counted,
         "request": binary_request(
             [("image", "FP32", [1, 3, 32, 32],
               rng.random(3 * 32 * 32, dtype=np.float32).tobytes())], ["probabilities"])},
        {"model": "remove_background", "concurrency": PIPELINE_CONCURRENCY,
         "args": ["--input-data", str(input_data), "--measurement-mode", "count_windows",
                  "--stability-percentage", "25", "--max-trials", "8"],
         "count_per_client": 6, "rounds": 1,
         "request": binary_request([("image_bytes", "BYTES", [1], bytes_element)],
                                   ["alpha_png"])},
    ]


SERVER_LINE = re.compile(r"Avg request latency: (\d+) usec \(overhead (\d+) usec \+ queue (\d+) "
                         r"usec \+ compute input (\d+) usec \+ compute infer (\d+) usec \+ "
                         r"compute output (\d+) usec\)")


# perf_analyzer 2.51 can grow without bound against a fast server (23 GB at 16 clients of the
# identity model, then the kernel's out-of-memory killer): it runs with a quarter of the host's
# memory as its address space, so it fails alone and says so instead of endangering the machine.
PERF_ANALYZER_MEMORY = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (PERF_ANALYZER_MEMORY, PERF_ANALYZER_MEMORY))


def threading_args(concurrency: int, cores: int) -> list[str]:
    """perf_analyzer's synchronous mode runs a thread a client; past one thread a core of the
    load generator's, its asynchronous mode keeps the clients' requests in flight from a thread
    a core (as wrk does from its event loops). On one core, 16 synchronous threads spent twice
    the CPU a request and grew without bound (23 GB) against the identity model."""
    return [] if concurrency <= cores else ["--async", "--max-threads", str(cores)]


def perf_analyzer(url: str, protocol: str, spec: dict, concurrency: int, cores: int,
                  work: pathlib.Path) -> dict:
    """One perf_analyzer run on `cores` cores; its throughput, latency percentiles and the
    server's breakdown."""
    report = work / f"{spec['model']}-{protocol}-{concurrency}.csv"
    args = [str(PERF_ANALYZER), "-m", spec["model"], "-u", url, "-i", protocol,
            "--concurrency-range", str(concurrency), *threading_args(concurrency, cores),
            *spec["args"], "-f", str(report)]
    if "count_per_client" in spec:
        args += ["--measurement-request-count", str(spec["count_per_client"] * concurrency)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=900,
                         preexec_fn=cap_memory)
    if out.returncode != 0:
        said = (out.stderr.strip() or out.stdout.strip() or "nothing").splitlines()[-1]
        if "bad_alloc" in out.stderr:
            said = f"out of memory at its cap of {PERF_ANALYZER_MEMORY >> 30} GiB ({said})"
        return {"error": f"perf_analyzer exited with {out.returncode}: {said}"}
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


def stats_of(port: int, model: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/v2/models/{model}/stats")
    [entry] = json.loads(conn.getresponse().read())["model_stats"]
    return entry


def batched(model: str) -> str:
    """The model whose instances run `model`'s batches (a pipeline's: its segmenter)."""
    return "segmenter" if model == "remove_background" else model


def devices_of(port: int, model: str) -> list[str]:
    """The devices `model`'s instances are on."""
    entry = stats_of(port, batched(model))
    return sorted({instance["device"] for instance in entry["instances"]})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid`, all its threads."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def counts(port: int, model: str) -> tuple[int, int, int]:
    """Requests `model` answered; inferences and batches its batched model ran."""
    entry = stats_of(port, batched(model))
    answered = entry if batched(model) == model else stats_of(port, model)
    return (answered["inference_stats"]["success"]["count"], entry["inference_count"],
            entry["execution_count"])


def with_cpu(server, model: str, measure) -> dict:
    """`measure()`'s result, with the CPU time the server and the load generator each spent per
    request answered meanwhile (the server's statistics count the requests), and the mean size
    of the batches run meanwhile (the server's CPU a request falls as batches fill)."""
    cpu = (cpu_seconds(server.process.pid), children_cpu_seconds())
    before = counts(server.port, model)
    result = measure()
    answered, inferences, batches = (
        after - then for after, then in zip(counts(server.port, model), before))
    if answered:
        result["server_cpu_us"] = (cpu_seconds(server.process.pid) - cpu[0]) / answered * 1e6
        result["client_cpu_us"] = (children_cpu_seconds() - cpu[1]) / answered * 1e6
    if batches:
        result["mean_batch"] = inferences / batches
    return result


def split_cores() -> tuple[set[int], set[int]]:
    """The server's cores and the load generators' (half each; all for both on one core)."""
    cores = sorted(os.sched_getaffinity(0))
    half = max(1, len(cores) // 2)
    return set(cores[:half]), set(cores[half:]) or set(cores)


def median_round(results: list[dict]) -> dict:
    """The round whose throughput is the median (the lower of the middle two), or the first
    failure when no round measured."""
    measured = sorted((r for r in results if "throughput_rps" in r),
                      key=lambda r: r["throughput_rps"])
    return measured[(len(measured) - 1) // 2] if measured else results[0]


def round_ratios(a: list[dict], b: list[dict]) -> list[float]:
    """Round by round, a's throughput ÷ b's (rounds where both measured)."""
    return [x["throughput_rps"] / y["throughput_rps"] for x, y in zip(a, b)
            if x.get("throughput_rps") and y.get("throughput_rps")]


def run(concurrencies: list[int], seconds: int, names: list[str], wrk: bool,
        rounds: int) -> dict:
    if not PERF_ANALYZER.exists():
        sys.exit(f"{PERF_ANALYZER} is missing: run scripts/setup.sh")
    rows = []
    server_cores, client_cores = split_cores()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        repository = build_repository(work / "repository", threads=len(server_cores))
        specs = [spec for spec in models(work) if spec["model"] in names]
        # The server inherits the first half of the cores, the load generators the other half,
        # so that neither takes CPU from the other and both yardsticks load the same server.
        os.sched_setaffinity(0, server_cores)
        server = start_server(repository)
        os.sched_setaffinity(0, client_cores)
        try:
            urls = {"http": f"127.0.0.1:{server.port}", "grpc": server.grpc_address}
            devices = {spec["model"]: devices_of(server.port, spec["model"]) for spec in specs}
            for spec in specs:
                script = wrk_script(work / f"{spec['model']}.lua", *spec["request"])
                for c in spec["concurrency"] or concurrencies:
                    measured = {"http": [], "grpc": [], "wrk": []}
                    # Rounds alternate the yardsticks, so that a drift of the machine's speed
                    # falls on all of them alike.
                    for _ in range(spec.get("rounds", rounds)):
                        for protocol in ("http", "grpc"):
                            measured[protocol].append(with_cpu(
                                server, spec["model"], lambda: perf_analyzer(
                                    urls[protocol], protocol, spec, c, len(client_cores), work)))
                        if wrk:
                            wrk_seconds = seconds if spec["concurrency"] is None else 3 * seconds
                            url = f"http://{urls['http']}/v2/models/{spec['model']}/infer"
                            measured["wrk"].append(with_cpu(server, spec["model"], lambda: run_wrk(
                                url, str(script), c, wrk_seconds)))
                            drain(server.port, spec)
                    row = {"model": spec["model"], "concurrency": c, "rounds": measured,
                           "grpc_over_http": round_ratios(measured["grpc"], measured["http"]),
                           "http_over_wrk": round_ratios(measured["http"], measured["wrk"])}
                    row.update({tool: median_round(results)
                                for tool, results in measured.items() if results})
                    rows.append(row)
                    print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), flush=True)
        finally:
            server.stop()
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})",
        "cores": {"server": len(server_cores), "load generators": len(client_cores)},
        "perf_analyzer": subprocess.run([str(PERF_ANALYZER), "--version"], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True).stdout.strip(),
        "seconds": seconds, "rounds": rounds, "identity_size": IDENTITY_SIZE, "devices": devices,
        "rows": rows,
    }


def ratios_of(row: dict, key: str) -> list[float]:
    """A row's round-by-round ratios (`grpc_over_http` or `http_over_wrk`)."""
    if key in row:
        return row[key]
    # Results written before there were rounds hold one ratio, of the rows themselves.
    a, b = ("grpc", "http") if key == "grpc_over_http" else ("http", "wrk")
    x, y = row[a].get("throughput_rps"), row.get(b, {}).get("throughput_rps")
    return [x / y] if x and y else []


def ratio_cell(values: list[float]) -> str:
    if not values:
        return "—"
    median = f"{statistics.median(values):.2f}×"
    return median if len(values) == 1 else f"{median} ({min(values):.2f}–{max(values):.2f})"


def latency(m: dict) -> str:
    return f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f}" if "p50_ms" in m else m.get("error", "—")


def per_request(m: dict, key: str) -> str:
    return f"{m[key]:.0f}" if key in m else "—"


def report(results: dict) -> str:
    cores = results["cores"]
    lines = [
        f"Measured {results['date']} on {results['machine']}, `make bench-perf-analyzer`, "
        f"{results['perf_analyzer']}. One Tandem on {cores['server']} core(s), the load "
        f"generators on the other {cores['load generators']}, serving an identity model "
        f"({results['identity_size']} FP32 in and out, max_batch_size 8, no dynamic batching), "
        "the example classifier and remove_background (the example's 301×207 JPEG as "
        "perf_analyzer's `--input-data`); models on "
        + ", ".join(f"{m} {' '.join(d)}" for m, d in results["devices"].items()) +
        f". Each row is {results.get('rounds', 1)} round(s) (remove_background: 1), each, in "
        "turn: perf_analyzer over HTTP, over gRPC (windows of 4000 requests, 6 a client for "
        "remove_background, until three agree; its synchronous mode, a thread a client, up to "
        "as many clients as the load generators have cores, past that its asynchronous mode on "
        "a thread a core), then wrk sending perf_analyzer's own HTTP "
        f"request (binary tensors in and out) for {results['seconds']} s (three times that for "
        "remove_background). Throughputs, latencies and CPU times are the median round's; "
        "ratios are the median of the rounds' ratios, their range in brackets. Server overhead: "
        "what the server's statistics leave of a request once queue and compute are taken out, "
        "as perf_analyzer reports it.",
        "",
        "| model | clients | HTTP infer/s | gRPC infer/s | gRPC ÷ HTTP | wrk req/s | "
        "perf_analyzer HTTP ÷ wrk | p50 / p99 ms HTTP | gRPC | wrk | server overhead µs "
        "HTTP / gRPC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    cpu = [
        "CPU time per request answered (µs), the server's and the load generator's, and the "
        "mean size of the batches the server ran (remove_background: its segmenter's), in the "
        "same runs:",
        "",
        "| model | clients | server: HTTP (perf_analyzer) | gRPC (perf_analyzer) | HTTP (wrk) | "
        "load generator: perf_analyzer HTTP | perf_analyzer gRPC | wrk | mean batch: HTTP / "
        "gRPC / wrk |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    grpc_ratios, agreement = [], []
    for r in results["rows"]:
        h, g, w = r["http"], r["grpc"], r.get("wrk", {})
        ht, gt, wt = h.get("throughput_rps"), g.get("throughput_rps"), w.get("throughput_rps")
        over_http, over_wrk = ratios_of(r, "grpc_over_http"), ratios_of(r, "http_over_wrk")
        if over_http and r["model"] != "remove_background":
            grpc_ratios.append(statistics.median(over_http))
        if over_wrk:
            agreement.append(statistics.median(over_wrk))
        overhead = " / ".join(str(m.get("server_overhead_us", "—")) for m in (h, g))
        lines.append(
            f"| {r['model']} | {r['concurrency']} | {ht or 0:.1f} | {gt or 0:.1f} | "
            f"{ratio_cell(over_http)} | {wt or 0:.1f} | {ratio_cell(over_wrk)} | {latency(h)} | "
            f"{latency(g)} | {latency(w)} | {overhead} |")
        batch = " / ".join(f"{m['mean_batch']:.2f}" if "mean_batch" in m else "—"
                           for m in (h, g, w))
        cpu.append(f"| {r['model']} | {r['concurrency']} | " + " | ".join(
            per_request(m, key) for key in ("server_cpu_us", "client_cpu_us")
            for m in (h, g, w)) + f" | {batch} |")
    lines += ["", *cpu, ""]
    if grpc_ratios:
        met = all(x >= 1.0 for x in grpc_ratios)
        lines.append(f"- gRPC ÷ HTTP throughput (identity and classifier, each row's median): "
                     f"{min(grpc_ratios):.2f}×–{max(grpc_ratios):.2f}× (target ≥ 1.0×: "
                     f"{'met' if met else 'not met'}).")
    if agreement:
        met = all(abs(x - 1) <= 0.10 for x in agreement)
        lines.append(f"- perf_analyzer's HTTP throughput ÷ wrk's for the same requests (each row's "
                     "median): "
                     f"{min(agreement):.2f}×–{max(agreement):.2f}× (target within 10%: "
                     f"{'met' if met else 'not met'}).")

    def span(model_filter, tool: str, key: str) -> str:
        values = [r[tool][key] for r in results["rows"]
                  if model_filter(r["model"]) and key in r.get(tool, {})]
        return f"{min(values):.0f}–{max(values):.0f}" if values else "—"

    def agree(model_filter) -> str:
        values = [statistics.median(ratios_of(r, "http_over_wrk")) for r in results["rows"]
                  if model_filter(r["model"]) and ratios_of(r, "http_over_wrk")]
        return f"{min(values):.2f}×–{max(values):.2f}×" if values else "—"

    identity = lambda m: m == "identity"  # noqa: E731
    others = lambda m: m != "identity"  # noqa: E731
    if agreement:
        lines.append(
            f"- perf_analyzer's HTTP throughput ÷ wrk's where the server's core is the limit "
            f"(classifier, remove_background): {agree(others)}; on the identity model, where "
            f"the load generator's core is: {agree(identity)} (perf_analyzer spends "
            f"{span(identity, 'http', 'client_cpu_us')} µs of CPU a request over HTTP, wrk "
            f"{span(identity, 'wrk', 'client_cpu_us')} µs).")
    for model in ("identity", "classifier"):
        extra = [r["grpc"]["server_cpu_us"] - r["http"]["server_cpu_us"] for r in results["rows"]
                 if r["model"] == model and "server_cpu_us" in r["grpc"]
                 and "server_cpu_us" in r["http"]]
        if extra:
            mean = sum(extra) / len(extra)
            lines.append(f"- {model}: the server's CPU a request over gRPC minus over HTTP "
                         f"(perf_analyzer's runs): {mean:+.0f} µs on average "
                         f"({min(extra):+.0f} to {max(extra):+.0f}).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds a row (remove_background: 1)")
    parser.add_argument("--models", default="identity,classifier,remove_background")
    parser.add_argument("--no-wrk", action="store_true", help="perf_analyzer only")
    parser.add_argument("--out", type=pathlib.Path, help="write the results here only")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the section from bench/results/perf_analyzer.json")
    args = parser.parse_args()
    if args.report_only:
        results = json.loads((ROOT / "bench" / "results" / "perf_analyzer.json").read_text())
    else:
        results = run([int(c) for c in args.concurrency.split(",")], args.seconds,
                      args.models.split(","), not args.no_wrk, args.rounds)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
        print(report(results))
    else:
        publish("perf_analyzer", DOC_TITLE, results, report)


if __name__ == "__main__":
    main()
