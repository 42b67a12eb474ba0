"""SageMaker multi-model endpoints, as SageMaker calls the container: artifacts loaded and
unloaded by name under the multi-model root (one model folder, or a repository with a
pipeline), invoked through /models/{name}/invoke, and urls that lead outside the root refused.
Sim models (y = x·scale + offset on a simulated GPU) keep it quick."""

import json
import os

import pytest

from support.server import start_server
from support.sim_repository import PIPELINE, sim_model, write



@pytest.fixture
def mme(tmp_path):
    """A multi-model root with three artifacts as SageMaker unpacks them, and a server on it."""
    root = tmp_path / "models"
    write(root / "one" / "model" / "model.yaml", sim_model(1))
    # A repository: a model and a pipeline over it (invoke runs the pipeline).
    write(root / "two" / "model" / "m" / "model.yaml", sim_model(2))
    write(root / "two" / "model" / "p" / "pipeline.yaml", PIPELINE)
    # The same names inside as "two": namespaced, so no collision.
    write(root / "three" / "model" / "m" / "model.yaml", sim_model(3))
    write(root / "three" / "model" / "p" / "pipeline.yaml", PIPELINE)
    write(root / "bad" / "model" / "model.yaml", "backend: sim\nmax_batch_size: many\n")
    (tmp_path / "outside").mkdir()
    write(tmp_path / "outside" / "model.yaml", sim_model(9))
    os.symlink(tmp_path / "outside", root / "link")
    s = start_server(None, "--sim-gpus", "1", "--multi-model-root", str(root),
                     env={"SAGEMAKER_MULTI_MODEL": "true"})
    yield s, root
    assert s.stop() == 0, "\n".join(s.log)


def add(s, name, url):
    return s.post("/models", json.dumps({"model_name": name, "url": str(url)}).encode(),
                  headers={"Content-Type": "application/json"})


def invoke(s, name, value=10.0, input_name="x", **headers):
    return s.post(f"/models/{name}/invoke",
                  json.dumps({"inputs": [{"name": input_name, "datatype": "FP32",
                                          "shape": [1, 2], "data": [value, value]}]}).encode(),
                  headers={"Content-Type": "application/json", **headers})


def answer(r):
    assert r.status == 200, r.body
    return r.json()["outputs"][0]["data"][0]


def test_artifacts_load_invoke_list_and_unload(mme):
    s, root = mme
    assert s.get("/ping").status == 200  # liveness, with nothing loaded
    assert s.get("/models").json() == {"models": []}

    assert add(s, "one.tar.gz", root / "one" / "model").status == 200
    r = add(s, "one.tar.gz", root / "one" / "model")
    assert r.status == 409 and "already loaded" in r.json()["error"], r.body
    assert add(s, "two", root / "two" / "model").status == 200
    assert add(s, "three/odd name", root / "three" / "model").status == 200

    assert answer(invoke(s, "one.tar.gz")) == 11
    assert answer(invoke(s, "two", input_name="a")) == 12  # the repository's pipeline
    assert answer(invoke(s, "three%2Fodd%20name", input_name="a")) == 13
    # A model inside a repository artifact, by the target header.
    assert answer(invoke(s, "two", **{"X-Amzn-SageMaker-Target-Model": "m"})) == 12
    r = invoke(s, "two", **{"X-Amzn-SageMaker-Target-Model": "nope"})
    assert r.status == 404 and "no model or pipeline 'nope'" in r.json()["error"], r.body

    listed = s.get("/models").json()["models"]
    assert [m["modelName"] for m in listed] == ["one.tar.gz", "three/odd name", "two"]
    assert listed[0]["modelUrl"] == str(root / "one" / "model")
    r = s.get("/models/two")
    assert r.status == 200 and r.json() == {"modelName": "two",
                                            "modelUrl": str(root / "two" / "model")}
    assert s.get("/models?next_page_token=x").status == 400

    r = invoke(s, "one.tar.gz", **{"X-Amzn-SageMaker-Custom-Attributes": "trace=7"})
    assert r.headers.get("x-amzn-sagemaker-custom-attributes") == "trace=7"

    assert s.request("DELETE", "/models/one.tar.gz").status == 200
    r = invoke(s, "one.tar.gz")
    assert r.status == 404 and "'one.tar.gz' is not loaded" in r.json()["error"], r.body
    assert s.request("DELETE", "/models/one.tar.gz").status == 404
    assert s.get("/models/one.tar.gz").status == 404
    assert answer(invoke(s, "two", input_name="a")) == 12  # the others still serve
    # Unloaded, the name can be loaded again.
    assert add(s, "one.tar.gz", root / "one" / "model").status == 200
    assert answer(invoke(s, "one.tar.gz")) == 11


def test_urls_outside_the_root_and_bad_artifacts_are_refused(mme):
    s, root = mme
    for url in (root.parent / "outside", root / ".." / "outside", root / "link", root):
        r = add(s, "evil", url)
        assert r.status == 400 and "not under the multi-model root" in r.json()["error"], \
            (url, r.body)
    r = add(s, "missing", root / "nothing")
    assert r.status == 400 and "cannot be read" in r.json()["error"], r.body
    r = add(s, "bad", root / "bad" / "model")
    assert r.status == 400 and "max_batch_size" in r.json()["error"], r.body
    r = s.post("/models", b'{"model_name": 3}', headers={"Content-Type": "application/json"})
    assert r.status == 400 and "model_name" in r.json()["error"]
    assert s.get("/models").json() == {"models": []}
    # A failed artifact leaves nothing behind: the name loads once the artifact is good.
    write(root / "bad" / "model" / "model.yaml", sim_model(4))
    assert add(s, "bad", root / "bad" / "model").status == 200
    assert answer(invoke(s, "bad")) == 14


def test_an_artifact_past_the_memory_limit_is_507_until_another_is_deleted(tmp_path):
    root = tmp_path / "models"
    for name, offset in (("a", 1), ("b", 2)):
        write(root / name / "model.yaml", sim_model(offset, weight_bytes=600))
    s = start_server(None, "--sim-gpus", "1", "--multi-model-root", str(root),
                     "--model-load-memory-limit", "sim:0=1000",
                     env={"SAGEMAKER_MULTI_MODEL": "true"})
    try:
        assert add(s, "a", root / "a").status == 200
        r = add(s, "b", root / "b")
        assert r.status == 507, r.body
        assert "600 bytes on sim:0" in r.json()["error"], r.body
        assert "--model-load-memory-limit" in r.json()["error"], r.body
        assert [m["modelName"] for m in s.get("/models").json()["models"]] == ["a"]
        assert invoke(s, "b").status == 404
        assert answer(invoke(s, "a")) == 11
        assert s.request("DELETE", "/models/a").status == 200
        assert add(s, "b", root / "b").status == 200
        assert answer(invoke(s, "b")) == 12
    finally:
        assert s.stop() == 0, "\n".join(s.log)
