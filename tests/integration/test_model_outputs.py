"""What a model.yaml may leave out or add, and where a mismatch is found: a subset of a tuple's
outputs, `tandem check` running the server's warm-up, UNAVAILABLE answers that say why, and
warm-up sizes for flexible dimensions."""

import subprocess

import numpy as np
import torch
from torch import nn

from support.server import start_server, tandem_binary


class ThreeHeads(nn.Module):
    """Returns a tuple of three, like a segmenter with side outputs."""

    def forward(self, x: torch.Tensor):
        return x * 2, x + 1, x - 1


class RowsOfFour(nn.Module):
    """Needs a width that is a multiple of 4: a size-1 warm-up of its free dimension fails."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, 4).sum(dim=2)


def model(root, name, module, yaml):
    (root / name / "1").mkdir(parents=True)
    torch.jit.script(module).save(str(root / name / "1" / "model.pt"))
    (root / name / "model.yaml").write_text(yaml)


HEADS = """\
backend: torchscript
max_batch_size: 4
inputs: [{name: x, datatype: FP32, shape: [3]}]
outputs:
%s
warmup: {batch_sizes: [1, 4]}
"""


def check(root):
    return subprocess.run([tandem_binary(), "check", str(root)], capture_output=True, text=True,
                          timeout=120)


def test_a_model_may_declare_the_first_of_its_tuple_outputs(tmp_path):
    model(tmp_path, "heads", ThreeHeads(),
          HEADS % "  - {name: doubled, datatype: FP32, shape: [3]}")
    assert check(tmp_path).returncode == 0
    s = start_server(tmp_path)
    try:
        r = s.post_json("/v2/models/heads/infer", {"inputs": [
            {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]})
        assert r.status == 200, r.body
        assert [o["name"] for o in r.json()["outputs"]] == ["doubled"]
        assert r.json()["outputs"][0]["data"] == [2, 4, 6, 8, 10, 12]
    finally:
        assert s.stop() == 0


def test_outputs_may_name_their_positions(tmp_path):
    model(tmp_path, "heads", ThreeHeads(), HEADS % (
        "  - {name: minus_one, datatype: FP32, shape: [3], position: 2}\n"
        "  - {name: doubled, datatype: FP32, shape: [3], position: 0}"))
    assert check(tmp_path).returncode == 0
    s = start_server(tmp_path)
    try:
        r = s.post_json("/v2/models/heads/infer", {"inputs": [
            {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
        assert r.status == 200, r.body
        outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
        assert outputs == {"minus_one": [0, 1, 2], "doubled": [2, 4, 6]}
    finally:
        assert s.stop() == 0


def test_check_runs_the_warm_up_and_finds_outputs_that_differ(tmp_path):
    model(tmp_path, "too_many", ThreeHeads(), HEADS % "\n".join(
        f"  - {{name: o{i}, datatype: FP32, shape: [3]}}" for i in range(4)))
    model(tmp_path, "wrong_type", ThreeHeads(),
          HEADS % "  - {name: doubled, datatype: INT64, shape: [3]}")
    r = check(tmp_path)
    assert r.returncode == 1, r.stdout
    assert f"{tmp_path}/too_many/1: warm-up with batch size 1 on cpu: output 'o3' is item 3 of " \
           "the result, but the model returned 3 item(s)" in r.stdout
    assert f"{tmp_path}/wrong_type/1: warm-up with batch size 1 on cpu: output 'doubled' is FP32 " \
           "but model.yaml declares INT64" in r.stdout


def test_unavailable_answers_carry_the_reason(tmp_path):
    model(tmp_path, "wrong_type", ThreeHeads(),
          HEADS % "  - {name: doubled, datatype: INT64, shape: [3]}")
    (tmp_path / "uses_it").mkdir()
    (tmp_path / "uses_it" / "pipeline.yaml").write_text("""\
inputs: [{name: a, datatype: FP32, shape: [-1, 3]}]
outputs: [{name: b, datatype: INT64, shape: [-1, 3]}]
steps: [{name: s, model: wrong_type, inputs: {x: a}, outputs: {doubled: b}}]
""")
    s = start_server(tmp_path, wait_ready=False)
    try:
        body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
        for _ in range(600):
            r = s.post_json("/v2/models/wrong_type/infer", body)
            if "LOADING" not in r.body.decode():
                break
        assert r.status == 503, r.body
        assert "is UNAVAILABLE: warm-up with batch size 1 on cpu: output 'doubled' is FP32 but " \
               "model.yaml declares INT64" in r.json()["error"], r.body
        r = s.post_json("/invocations", body,
                        headers={"X-Amzn-SageMaker-Target-Model": "wrong_type"})
        assert r.status == 503 and "output 'doubled' is FP32" in r.json()["error"], r.body
        body["inputs"][0]["name"] = "a"
        r = s.post_json("/v2/models/uses_it/infer", body)
        assert r.status == 503
        assert "model 'wrong_type' is not ready: warm-up with batch size 1" in r.json()["error"]
    finally:
        s.stop()


ROWS = """\
backend: torchscript
max_batch_size: 0
inputs: [{name: x, datatype: FP32, shape: [2, -1]}]
outputs: [{name: y, datatype: FP32, shape: [2, -1]}]
warmup: %s
"""


def test_warm_up_gives_flexible_dimensions_their_sizes(tmp_path):
    model(tmp_path, "default_sizes", RowsOfFour(), ROWS % "{batch_sizes: [1]}")
    model(tmp_path, "given_sizes", RowsOfFour(), ROWS % "{shapes: {x: [2, 8]}}")
    r = check(tmp_path)
    assert "default_sizes/1: warm-up with batch size 1 on cpu" in r.stdout, r.stdout
    assert "given_sizes" not in r.stdout
    s = start_server(tmp_path, wait_ready=False)
    try:
        x = np.arange(16, dtype=np.float32).reshape(2, 8)
        for _ in range(600):
            r = s.post_json("/v2/models/given_sizes/infer", {"inputs": [
                {"name": "x", "shape": [2, 8], "datatype": "FP32", "data": x.ravel().tolist()}]})
            if "LOADING" not in r.body.decode():
                break
        assert r.status == 200, r.body
        assert r.json()["outputs"][0]["data"] == x.reshape(2, 2, 4).sum(axis=2).ravel().tolist()
    finally:
        s.stop()
