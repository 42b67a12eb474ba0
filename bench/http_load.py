"""Closed-loop HTTP load against one model: N clients, each sending its next request as soon as
the last one is answered, over keep-alive connections, with the binary data extension.

Prints a table row and writes JSON. Usage:
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


def client(port: int, model: str, body: bytes, header_len: int, seconds: float, queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Inference-Header-Content-Length": str(header_len),
               "Content-Type": "application/octet-stream"}
    latencies, errors = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        conn.request("POST", f"/v2/models/{model}/infer", body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1
    queue.put((latencies, errors))


def run(port: int, model: str, input_name: str, shape: list[int], concurrency: int,
        seconds: float) -> dict:
    data = np.random.default_rng(0).random(shape, dtype=np.float32).tobytes()
    header = json.dumps({
        "inputs": [{"name": input_name, "shape": shape, "datatype": "FP32",
                    "parameters": {"binary_data_size": len(data)}}],
        "parameters": {"binary_data_output": True}}).encode()
    queue = mp.Queue()
    procs = [mp.Process(target=client, args=(port, model, header + data, len(header), seconds,
                                             queue)) for _ in range(concurrency)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = np.array([lat for r in results for lat in r[0]])
    errors = sum(r[1] for r in results)
    return {
        "concurrency": concurrency,
        "requests": int(latencies.size),
        "errors": errors,
        "throughput_rps": latencies.size / seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1e3) if latencies.size else None,
        "p99_ms": float(np.percentile(latencies, 99) * 1e3) if latencies.size else None,
    }


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
    rows = []
    for c in [int(c) for c in args.concurrency.split(",")]:
        row = {"label": args.label, "model": args.model, "shape": shape, **run(
            args.port, args.model, args.input, shape, c, args.seconds)}
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
