"""Shared by the benchmark scripts: the example repository (as the pipeline benchmarks shape it,
with their compiled models), an identity model, running wrk, and writing a section of
docs/performance.md."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

from packages import bench_packages

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE_REPOSITORY = ROOT / "examples" / "repository"


def copy_example(root: pathlib.Path, backend: str = "torchscript") -> pathlib.Path:
    """The remove_background example (its two models and the pipeline, as `make example` left
    them) copied to `root`, its models served by `backend`. The example's configs say aoti; the
    handlers the benchmarks race load the TorchScript files, so Tandem serves those too, unless
    a benchmark compares the two formats."""
    for name in ("segmenter", "matting", "remove_background"):
        shutil.copytree(EXAMPLE_REPOSITORY / name, root / name)
    for name in ("segmenter", "matting"):
        config = root / name / "model.yaml"
        config.write_text(re.sub(r"^backend: \w+", f"backend: {backend}", config.read_text(),
                                 flags=re.M))
    return root


# How a tuned Tandem is started: LibTorch with one intra-op thread (see bench_repository).
TUNED_ENV = {"OMP_NUM_THREADS": "1"}


def bench_repository(root: pathlib.Path, size: int, backend: str = "torchscript",
                     tuned: bool = False) -> pathlib.Path:
    """The remove_background example at `root` (copy_example) as the pipeline benchmarks serve
    it: the segmenter at size×size and, like the other batching contenders, batches of up to 4
    within 2 ms. With `backend` aoti the models are packages compiled at that size and batch
    (packages.bench_packages). With `tuned`, configured as the tuned toolkit is for a CPU of
    few cores: two instances of each model, each on one intra-op thread (serve it with
    TUNED_ENV; the packages are compiled for one thread), one request at a time (on one thread
    a batch of 2 takes twice as long, while the other instance may sit idle)."""
    copy_example(root, backend)
    for config in (root / "segmenter" / "model.yaml", root / "remove_background" / "pipeline.yaml"):
        config.write_text(config.read_text().replace("320", str(size)))
    segmenter = root / "segmenter" / "model.yaml"
    segmenter.write_text(segmenter.read_text().replace("max_batch_size: 8", "max_batch_size: 4")
                         .replace("preferred_batch_sizes: [4, 8]", "preferred_batch_sizes: [4]"))
    if tuned:
        for name in ("segmenter", "matting"):
            config = root / name / "model.yaml"
            config.write_text(config.read_text().replace("count: 1", "count: 2"))
        segmenter.write_text(segmenter.read_text().replace("max_batch_size: 4", "max_batch_size: 1")
                             .replace("dynamic_batching: {max_queue_delay_us: 2000, "
                                      "preferred_batch_sizes: [4]}\n", ""))
    if backend == "aoti":
        packages = bench_packages(size, threads=1 if tuned else None)
        for name in ("segmenter", "matting"):
            shutil.copy(packages / name / "1" / "model.pt2", root / name / "1" / "model.pt2")
    return root


def torchscript_identity(path: pathlib.Path) -> None:
    """A TorchScript model at `path` that returns its input."""
    import torch

    class Identity(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    torch.jit.script(Identity()).save(str(path))


def wrk_script(path: pathlib.Path, body: bytes, headers: dict[str, str]) -> pathlib.Path:
    """A wrk script at `path` that POSTs `body` (read from a file beside it: it may be binary)
    with `headers`."""
    body_file = path.with_suffix(".body")
    body_file.write_bytes(body)
    path.write_text(f'local f = io.open("{body_file}", "rb")\nwrk.method = "POST"\n'
                    'wrk.body = f:read("*all")\nf:close()\n' +
                    "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items()))
    return path


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    number, unit = float(m.group(1)), m.group(2)
    return number * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def run_wrk(url: str, script: str, concurrency: int, seconds: int) -> dict:
    """Closed-loop load: `concurrency` keep-alive connections for `seconds`, 2 threads (1 for
    one connection)."""
    out = subprocess.run(
        ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "30s",
         "--latency", "-s", script, url],
        capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "throughput_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": to_ms(percentiles["50"]),
        "p90_ms": to_ms(percentiles["90"]),
        "p99_ms": to_ms(percentiles["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        # connect, read and write errors and timeouts (no answer within 30 s), together
        "failed": sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
        if socket_errors else 0,
    }


def measure(repository: pathlib.Path, server_args: list[str], model: str, script: str,
            concurrencies: list[int], seconds: int, row: dict, label: str) -> list[dict]:
    """Starts `tandem serve` on `repository` with `server_args`, loads `model` with wrk at each
    concurrency, stops the server, and returns one row per concurrency (`row` merged in)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.server import start_server

    rows = []
    server = start_server(repository, *server_args)
    try:
        for c in concurrencies:
            url = f"http://127.0.0.1:{server.port}/v2/models/{model}/infer"
            result = {**row, "concurrency": c, **run_wrk(url, script, c, seconds)}
            rows.append(result)
            print(f"{label:>14} clients={c:<5} {result['throughput_rps']:>9.0f} req/s  "
                  f"p50={result['p50_ms']:.1f} ms  p99={result['p99_ms']:.1f} ms  "
                  f"errors={result['non_2xx']}", flush=True)
    finally:
        server.stop()
    return rows


def write_doc_section(name: str, title: str, body: str) -> None:
    """Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in
    docs/performance.md, or appends a new section titled `title`."""
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body}\n{end}"
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text += f"\n## {title}\n\n{section}\n"
    doc.write_text(text)


def publish(name: str, title: str, results: dict, report) -> None:
    """Writes `results` to bench/results/<name>.json and `report(results)` as the `name` section
    of docs/performance.md (titled `title`), and prints the report."""
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    text = report(results)
    write_doc_section(name, title, text)
    print(text)
