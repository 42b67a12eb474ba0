"""`tandem check` and `tandem version`."""

import shutil
import subprocess

from support.server import tandem_binary


def run(*args):
    return subprocess.run([tandem_binary(), *args], capture_output=True, text=True, timeout=60)


def test_version():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("tandem ")


def test_check_accepts_a_valid_repository(repository, tmp_path):
    # The shared test repository holds wrong_dtype on purpose (it returns FP64 where its
    # model.yaml says FP32, to test the serving-time 500); check runs every model and names it.
    r = run("check", str(repository))
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{repository}/wrong_dtype/1: warm-up with batch size 1 on cpu: output 'y' is FP64 but "
        "model.yaml declares FP32", f"1 problem(s) found in {repository}"]
    valid = tmp_path / "valid"
    shutil.copytree(repository, valid, ignore=shutil.ignore_patterns("wrong_dtype"))
    r = run("check", str(valid))
    assert r.returncode == 0, r.stdout
    assert "classifier: torchscript, versions 1" in r.stdout
    assert "versioned: torchscript, versions 1 2" in r.stdout


def test_check_lists_every_problem_with_file_and_key(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.yaml").write_text(
        "backend: torchscript\nmax_batch_size: 2\n"
        "inputs: [{name: x, datatype: FP33, shape: [1]}]\n"
        "outputs: [{name: y, datatype: FP32, shape: [0]}]\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "model.yaml").write_text(
        "backend: torchscript\ninputs: [{name: x, datatype: FP32, shape: [1]}]\n"
        "outputs: [{name: y, datatype: FP32, shape: [1]}]\n")
    r = run("check", str(tmp_path))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert f"{tmp_path}/a/model.yaml: inputs[0].datatype: unknown datatype 'FP33'" in r.stdout
    assert f"{tmp_path}/a/model.yaml: outputs[0].shape[0]: must be a positive size" in r.stdout
    assert f"{tmp_path}/b: no version folder: expected b/1/model.pt" in r.stdout
    assert lines[-1] == f"3 problem(s) found in {tmp_path}"


def test_serve_refuses_an_invalid_repository(tmp_path):
    r = run("serve", "--model-repository", str(tmp_path), "--port", "0")
    assert r.returncode == 1
    assert "holds no model folders" in r.stderr


def test_serve_refuses_devices_the_host_does_not_have(repository):
    r = run("serve", "--model-repository", str(repository), "--port", "0", "--devices", "cuda:63")
    assert r.returncode == 1
    assert "--devices names cuda:63, which this host does not have" in r.stderr


PIPELINE = """\
inputs: [{name: raw, datatype: FP32, shape: [-1, 1]}]
outputs: [{name: result, datatype: FP32, shape: [-1, 1]}]
steps:
  - {name: first, model: versioned, inputs: {x: raw}, outputs: {y: middle}}
  - {name: second, model: versioned, inputs: {x: middle}, outputs: {y: result}}
"""


def test_check_validates_pipelines_against_their_models(repository, tmp_path):
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(repository / "versioned", repo / "versioned")
    (repo / "chain").mkdir()
    (repo / "chain" / "pipeline.yaml").write_text(PIPELINE)
    r = run("check", str(repo))
    assert r.returncode == 0, r.stdout
    assert "chain: pipeline of 2 steps" in r.stdout

    (repo / "chain" / "pipeline.yaml").write_text(PIPELINE.replace("{x: middle}", "{z: middle}"))
    r = run("check", str(repo))
    assert r.returncode == 1
    assert (f"{repo}/chain/pipeline.yaml: steps[second].inputs.z: model 'versioned' has no "
            "input 'z'") in r.stdout



def test_check_loads_every_model_file(repository, tmp_path):
    shutil.copytree(repository / "versioned", tmp_path / "versioned")
    (tmp_path / "versioned" / "2" / "model.pt").write_bytes(b"not a TorchScript archive")
    r = run("check", str(tmp_path))
    assert r.returncode == 1
    assert f"{tmp_path}/versioned/2: loading {tmp_path}/versioned/2/model.pt:" in r.stdout
    assert r.stdout.splitlines()[-1] == f"1 problem(s) found in {tmp_path}"
