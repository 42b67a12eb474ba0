"""docs/openapi.yaml against the running server: schemathesis generates requests from the
description (valid and invalid ones) and checks every answer: no 5xx, only documented status
codes, content types and headers, response bodies matching their schemas, and invalid requests
refused.

Left out: `positive_data_acceptance`. The description cannot say which tensors a given model
accepts, so a schema-valid infer request is usually a well-founded 400 from Tandem."""

import subprocess

from support.server import ROOT


def test_the_server_matches_its_openapi_description(server):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "schemathesis"), "run", str(ROOT / "docs" / "openapi.yaml"),
         "--url", f"http://127.0.0.1:{server.port}", "--max-examples", "20", "--seed", "1",
         "--exclude-checks", "positive_data_acceptance", "--continue-on-failure",
         "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert server.process.poll() is None  # and the server is still up
