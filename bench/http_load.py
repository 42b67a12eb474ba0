"""Closed-loop HTTP load from Python, for machines without wrk (the GPU machines): N client
processes, each on one keep-alive connection, sending its next request as soon as the last one
is answered.

As a library: `closed_loop(port, path, body, headers, concurrency, seconds)`. As a command, a
v2 request with the binary data extension:
  python bench/http_load.py --port 8080 --model classifier --shape 1,3,32,32 \
      --concurrency 1,8,32 --seconds 10 --label cpu --out results.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import platform
import time

import numpy as np


def _client(port: int, path: str, body: bytes, headers: dict, seconds: float, queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, errors = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1
    queue.put((latencies, errors))


def closed_loop(port: int, path: str, body: bytes, headers: dict, concurrency: int,
                seconds: float) -> dict:
    """Throughput (answers with 200 a second), p50/p99 latency and errors of `concurrency`
    clients POSTing `body` to `path` for `seconds`."""
    queue = mp.Queue()
    procs = [mp.Process(target=_client, args=(port, path, body, headers, seconds, queue))
             for _ in range(concurrency)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = np.array([lat for r in results for lat in r[0]])
    return {
        "concurrency": concurrency,
        "requests": int(latencies.size),
        "errors": sum(r[1] for r in results),
        "throughput_rps": latencies.size / seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1e3) if latencies.size else None,
        "p99_ms": float(np.percentile(latencies, 99) * 1e3) if latencies.size else None,
    }


def v2_binary_request(input_name: str, shape: list[int]) -> tuple[bytes, dict]:
    """A v2 request body of random FP32 data in the binary extension, and its headers."""
    data = np.random.default_rng(0).random(shape, dtype=np.float32).tobytes()
    header = json.dumps({
        "inputs": [{"name": input_name, "shape": shape, "datatype": "FP32",
                    "parameters": {"binary_data_size": len(data)}}],
        "parameters": {"binary_data_output": True}}).encode()
    return header + data, {"Inference-Header-Content-Length": str(len(header)),
                           "Content-Type": "application/octet-stream"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--model", default="classifier")
    parser.add_argument("--input", default="image")
    parser.add_argument("--shape", default="1,3,32,32")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    shape = [int(d) for d in args.shape.split(",")]
    body, headers = v2_binary_request(args.input, shape)
    rows = []
    for c in [int(c) for c in args.concurrency.split(",")]:
        row = {"label": args.label, "model": args.model, "shape": shape, **closed_loop(
            args.port, f"/v2/models/{args.model}/infer", body, headers, c, args.seconds)}
        rows.append(row)
        print(f"{args.label:>10} {args.model:>12} conc={c:<4} {row['throughput_rps']:>9.1f} req/s"
              f"  p50={row['p50_ms']:.2f} ms  p99={row['p99_ms']:.2f} ms  errors={row['errors']}",
              flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": platform.node(), "cpus": mp.cpu_count(), "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
