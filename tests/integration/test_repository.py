"""A repository with broken entries: the valid models are served, the broken ones are reported."""

import shutil

from support.server import start_server


def test_valid_models_serve_and_broken_ones_are_reported(repository, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(repository / "versioned", repo / "versioned")
    (repo / "typo").mkdir()
    (repo / "typo" / "model.yaml").write_text(
        "backend: torchscript\ninputs: [{name: x, datatype: FP33, shape: [1]}]\n"
        "outputs: [{name: y, datatype: FP32, shape: [1]}]\n")
    (repo / "chain").mkdir()
    (repo / "chain" / "pipeline.yaml").write_text(
        "inputs: [{name: a, datatype: FP32, shape: [-1, 1]}]\n"
        "outputs: [{name: b, datatype: FP32, shape: [-1, 1]}]\n"
        "steps: [{name: s, model: nowhere, inputs: {x: a}, outputs: {y: b}}]\n")
    s = start_server(repo, wait_ready=False)
    try:
        # The valid model serves...
        for _ in range(600):
            if s.get("/v2/models/versioned/ready").status == 200:
                break
        r = s.post_json("/v2/models/versioned/infer",
                        {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                     "data": [1.0]}]})
        assert r.status == 200 and r.json()["outputs"][0]["data"] == [3.0]
        # ...the broken ones are 404 with their problems, listed in the index, and keep the
        # server from claiming readiness.
        r = s.post_json("/v2/models/typo/infer", {"inputs": []})
        assert r.status == 404
        assert "unknown datatype 'FP33'" in r.json()["error"]
        r = s.get("/v2/models/chain/ready")
        assert r.status == 404 and "is not available" in r.json()["error"]
        index = {e["name"]: e for e in s.post("/v2/repository/index", b"").json()}
        assert index["typo"]["state"] == "UNAVAILABLE"
        assert "steps[s].model: unknown model 'nowhere'" in index["chain"]["reason"]
        ping = s.get("/ping")
        assert ping.status == 503 and "typo UNAVAILABLE" in ping.json()["error"]
        assert s.get("/v2/health/ready").status == 400
        assert any("unknown datatype 'FP33'" in line for line in s.log)
    finally:
        assert s.stop() == 0
