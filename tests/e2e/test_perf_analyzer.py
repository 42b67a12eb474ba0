"""perf_analyzer, the v2 load generator, measures Tandem over HTTP and gRPC unchanged: it reads
the server's extensions, the model's metadata and config, sends binary tensors at a set
concurrency and reads the server-side statistics back. Brief runs: a few thousand requests."""

import csv
import pathlib
import re
import subprocess
import sys

import pytest

# scripts/setup.sh installs it beside the environment's Python.
PERF_ANALYZER = pathlib.Path(sys.executable).parent / "perf_analyzer"


def perf_analyzer(server, protocol: str, model: str, tmp_path, *args: str) -> tuple[dict, str]:
    """One brief perf_analyzer run at concurrency 2; its CSV row and its report."""
    url = f"127.0.0.1:{server.port}" if protocol == "http" else server.grpc_address
    report = tmp_path / f"{model}-{protocol}.csv"
    out = subprocess.run(
        [str(PERF_ANALYZER), "-m", model, "-u", url, "-i", protocol, "--concurrency-range", "2",
         "--measurement-mode", "count_windows", "--measurement-request-count", "200",
         "--stability-percentage", "50", "--max-trials", "10", "-f", str(report), *args],
        capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    [row] = list(csv.DictReader(report.open()))
    return row, out.stdout


def server_section(report: str) -> dict[str, int]:
    """The counts of perf_analyzer's "Server:" section (from the server's statistics)."""
    server = report[report.index("  Server:"):]
    return {name: int(n) for name, n in re.findall(
        r"^\s+(Inference count|Execution count|Successful request count): (\d+)", server, re.M)}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_classifier_in_batches_of_two(server, protocol, tmp_path):
    row, report = perf_analyzer(server, protocol, "classifier", tmp_path, "-b", "2")
    assert row["Concurrency"] == "2" and float(row["Inferences/Second"]) > 0
    counts = server_section(report)
    # What the server counted while perf_analyzer measured: every request it sent, two items
    # each, and no more executions than items (dynamic batching may merge requests).
    assert counts["Successful request count"] > 0
    assert counts["Inference count"] == 2 * counts["Successful request count"]
    assert 0 < counts["Execution count"] <= counts["Inference count"]
    assert float(row["Server Compute Infer"]) > 0


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_free_dimension_sized_by_the_client(server, protocol, tmp_path):
    row, report = perf_analyzer(server, protocol, "two_outputs", tmp_path, "--shape", "x:64")
    assert float(row["Inferences/Second"]) > 0
    counts = server_section(report)
    assert counts["Inference count"] == counts["Successful request count"] > 0
