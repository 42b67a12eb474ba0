"""Where one request's time goes, at one client: the example's handler (PIL, torchvision, in
this process) stage by stage, against Tandem's remove_background pipeline step by step (from its
/metrics), on the same images, in alternating rounds so that both see the same machine; and, in
the same rounds, the whole request through the same pipeline with its pre- and post-processing
in TorchScript glue models (contenders/glue.py) instead of the built-in ops.

What the server itself adds is the time outside the two forward passes: decode, resizes, argmax,
trimap, matting input, PNG, and for Tandem the HTTP exchange and the hand-offs between steps
(its total latency at the client minus the segmenter's and the matting net's compute, request by
request).

Writes bench/results/stages.json and the `stages` section of docs/performance.md.
Usage (`make bench-stages`): python bench/pipeline/stages.py [--rounds 4] [--requests 6]
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import pathlib
import platform
import re
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
sys.path.insert(0, str(ROOT / "examples" / "remove_background"))
sys.path.insert(0, str(HERE / "contenders"))
import glue  # noqa: E402
import handler  # noqa: E402
from common import EXAMPLE_REPOSITORY, copy_example, publish  # noqa: E402
from support.server import start_server  # noqa: E402

DOC_TITLE = "Where a request's time goes at one client: Tandem's steps against the handler's"
# Handler stage -> the Tandem steps that compute the same thing.
STAGES = {
    "decode": ["decode"],
    "segmenter input (resize, normalise)": ["prep"],
    "segmenter forward": ["segment"],
    "trimap (argmax, levels, bicubic resize)": ["classes", "trimap", "resize"],
    "matting input (normalise, ÷255, concat)": ["normalise", "trimap_scale", "join"],
    "matting forward": ["matte"],
    "PNG": ["encode"],
}
FORWARD = ("segmenter forward", "matting forward")


def photo(width: int, height: int) -> bytes:
    """A deterministic photo-like JPEG: gradients, stripes and a disc."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, ((x // 9) % 2) * 110], -1)
    rgb[(x - width * 0.55) ** 2 + (y - height * 0.5) ** 2 < (height * 0.3) ** 2] = [240, 200, 60]
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def handler_stages(segmenter, matting, encoded: bytes) -> dict[str, float]:
    """One request through the handler, each stage timed (ms)."""
    t = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        t[name] = (time.perf_counter() - start) * 1e3
        return out

    with torch.inference_mode():
        image = timed("decode", lambda: handler.decode(encoded))
        x = timed("segmenter input (resize, normalise)", lambda: handler.segmenter_input(image))
        logits = timed("segmenter forward", lambda: segmenter(x)[0])
        trimap = timed("trimap (argmax, levels, bicubic resize)",
                       lambda: handler.trimap(logits, image.size))
        m = timed("matting input (normalise, ÷255, concat)",
                  lambda: handler.matting_input(image, trimap))
        alpha = timed("matting forward", lambda: matting(m))
        timed("PNG", lambda: handler.encode_png(alpha))
    return t


def step_sums(metrics: str) -> dict[str, tuple[float, float]]:
    """Compute time summed and counted: per step of remove_background, and per model (its own
    compute, which excludes queueing)."""
    out: dict[str, list[float]] = {}
    for m in re.finditer(r"^tandem_compute_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$", metrics,
                         re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("model") == "remove_background" and labels.get("step"):
            key = labels["step"]
        elif labels.get("model") in ("segmenter", "matting") and not labels.get("step"):
            key = labels["model"]
        else:
            continue
        out.setdefault(key, [0.0, 0.0])[0 if m.group(1) == "sum" else 1] += float(m.group(3))
    return {k: (v[0], v[1]) for k, v in out.items()}


HEADERS = {"Content-Type": "image/jpeg", "Accept": "image/png",
           "X-Amzn-SageMaker-Target-Model": "remove_background"}


def tandem_round(server, encoded: bytes, requests: int) -> list[dict[str, float]]:
    """`requests` requests one after another; for each, its step times (ms, from /metrics read
    around it) and its client latency as "total"."""
    runs = []
    after = step_sums(server.get("/metrics").body.decode())
    for _ in range(requests):
        before = after
        start = time.perf_counter()
        r = server.post("/invocations", encoded, headers=HEADERS)
        latency = (time.perf_counter() - start) * 1e3
        assert r.status == 200, r.body
        after = step_sums(server.get("/metrics").body.decode())
        steps = {key: (s - before.get(key, (0.0, 0.0))[0]) * 1e3 for key, (s, _) in after.items()}
        # The models' steps: their compute, which excludes the queue wait.
        steps["segment"], steps["matte"] = steps.pop("segmenter"), steps.pop("matting")
        steps["total"] = latency
        runs.append(steps)
    return runs


def glue_round(server, encoded: bytes, requests: int) -> list[float]:
    """`requests` requests one after another to the glue pipeline: their client latencies."""
    latencies = []
    for _ in range(requests):
        start = time.perf_counter()
        r = server.post("/invocations", encoded, headers=HEADERS)
        latencies.append((time.perf_counter() - start) * 1e3)
        assert r.status == 200, r.body
    return latencies


def measure(size: tuple[int, int], rounds: int, requests: int, server, glue_server,
            models) -> dict:
    encoded = photo(*size)
    segmenter, matting = models
    # Both outputs equal, bit for bit: the same computation, so the times compare like for like.
    r = server.post("/invocations", encoded, headers=HEADERS)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.body))), np.asarray(
        Image.open(io.BytesIO(handler.remove_background(segmenter, matting, encoded)))))
    glued = glue_server.post("/invocations", encoded, headers=HEADERS)
    assert glued.status == 200 and glued.body == r.body, "the glue's PNG is not Tandem's"
    for _ in range(2):
        handler_stages(segmenter, matting, encoded)
    tandem_round(server, encoded, 3)
    glue_round(glue_server, encoded, 3)
    handler_runs, tandem_runs, glue_runs = [], [], []
    for _ in range(rounds):
        handler_runs += [handler_stages(segmenter, matting, encoded) for _ in range(requests)]
        tandem_runs += tandem_round(server, encoded, requests)
        glue_runs += glue_round(glue_server, encoded, requests)
    # Outside the forward passes, request by request: the forward passes vary more from one
    # request to the next than everything else takes, so a difference of medians would not do.
    outside = [k for k in STAGES if k not in FORWARD]
    return {
        "size": f"{size[0]}×{size[1]}",
        "handler_ms": {k: statistics.median(run[k] for run in handler_runs) for k in STAGES},
        "tandem_ms": {k: statistics.median(sum(run[n] for n in names) for run in tandem_runs)
                      for k, names in STAGES.items()},
        "handler_total_ms": statistics.median(sum(run.values()) for run in handler_runs),
        "tandem_total_ms": statistics.median(run["total"] for run in tandem_runs),
        "glue_total_ms": statistics.median(glue_runs),
        "handler_outside_ms": statistics.median(sum(run[k] for k in outside)
                                                for run in handler_runs),
        "tandem_outside_ms": statistics.median(
            run["total"] - run["segment"] - run["matte"] for run in tandem_runs),
        "requests": len(tandem_runs),
    }


def report(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']}, CPU only, `make bench-stages`: the "
        "example's remove_background (segmenter at 320×320) at one client, the handler "
        "(`examples/remove_background/handler.py`, PIL and torchvision, in-process, no HTTP) "
        "against Tandem over HTTP, in alternating rounds; medians of "
        f"{results['rows'][0]['requests']} requests each. Tandem's model rows are the models' "
        "compute; its step rows are the ops' compute; its outside row is, request by request, the "
        "client's latency minus the two forward passes, so it holds HTTP, queueing and hand-offs "
        "too, and not the steps that ran beside a forward pass (the image's normalisation runs "
        "while the segmenter does). Both produce the same PNG, bit for bit (checked before "
        "timing).", ""]
    for row in results["rows"]:
        lines += [f"**{row['size']} JPEG**", "", "| stage | handler ms | Tandem ms |",
                  "| --- | ---: | ---: |"]
        for k in STAGES:
            lines.append(f"| {k} | {row['handler_ms'][k]:.1f} | {row['tandem_ms'][k]:.1f} |")
        lines += [
            f"| **outside the two forward passes** | **{row['handler_outside_ms']:.1f}** | "
            f"**{row['tandem_outside_ms']:.1f}** |",
            f"| whole request | {row['handler_total_ms']:.1f} | {row['tandem_total_ms']:.1f} |",
            "",
            f"Outside the forward passes Tandem takes **"
            f"{row['tandem_outside_ms'] / row['handler_outside_ms']:.2f}** of the handler's time "
            "(target ≤ 0.5); the whole request, "
            f"{row['handler_total_ms'] / row['tandem_total_ms']:.2f}× the handler's speed. "
            "The same pipeline with TorchScript glue for its pre- and post-processing, in the "
            f"same rounds: {row['glue_total_ms']:.1f} ms a request; the built-in ops' is "
            f"**{row['glue_total_ms'] / row['tandem_total_ms']:.2f}×** faster.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=6, help="requests a round")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    models = (torch.jit.load(str(EXAMPLE_REPOSITORY / "segmenter" / "1" / "model.pt")),
              torch.jit.load(str(EXAMPLE_REPOSITORY / "matting" / "1" / "model.pt")))
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(copy_example(pathlib.Path(tmp) / "builtin"))
        glued = copy_example(pathlib.Path(tmp) / "glue")
        glue.install(glued, 320)
        glue_server = start_server(glued)
        try:
            rows = [measure(size, args.rounds, args.requests, server, glue_server, models)
                    for size in ((301, 207), (1024, 683))]
        finally:
            server.stop()
            glue_server.stop()
    results = {"machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()})",
               "date": str(datetime.date.today()), "rows": rows}
    publish("stages", DOC_TITLE, results, report)


if __name__ == "__main__":
    main()
