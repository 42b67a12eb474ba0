"""The contenders of bench/pipeline/run.py: how each server is set up and started (the way its
docs say), and what to send it. Each start_* takes a fresh working folder and the folder of model
files (segmenter.pt, matting.pt, identity.pt) and returns a started Server.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


import glue as glue_models
import steps
from common import TUNED_ENV, bench_repository, torchscript_identity
from packages import bench_packages

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONTENDERS = HERE / "contenders"
EXAMPLES = ROOT / "examples"
IMAGE = EXAMPLES / "remove_background" / "sample.jpg"
BENCH_BIN = pathlib.Path(sys.executable).parent
IDENTITY_VALUES = [[float(i) for i in range(16)]]

# The tuned toolkit run: a TorchServe worker a core, each with one intra-op thread. The default
# (a worker a core, each with a thread a core) oversubscribes the CPU. One worker with two
# threads was measured too: faster with one client (3.7 against 2.1 img/s), slower from four
# (3.6 against 4.0 img/s); a tuned server is tuned for load.
TOOLKIT_TUNED = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Target:
    """One kind of request to a server: where to POST what, with which headers."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Server:
    """A contender's process tree and what to send it. The tree has its own session, so that
    stopping it stops every process it started, and its own TMPDIR (TorchServe keeps a pid file
    and unpacked models there, Ray its sockets and logs)."""

    name: str
    settings: str
    port: int
    pipeline: Target
    identity: Target
    process: subprocess.Popen | None = None
    log: pathlib.Path | None = None

    def url(self, target: Target) -> str:
        return f"http://127.0.0.1:{self.port}{target.path}"

    def post(self, target: Target, timeout: float = 120) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url(target), data=target.body,
                                         headers=target.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError as e:
            return 0, str(e).encode()

    def start(self, command: list[str], workdir: pathlib.Path, env: dict[str, str]) -> None:
        self.log = workdir / "server.log"
        self.process = subprocess.Popen(
            command, cwd=workdir, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(CONTENDERS), "TMPDIR": str(workdir),
                 "PATH": f"{BENCH_BIN}:{os.environ['PATH']}", **env})

    def wait_until_serving(self, timeout: float = 300) -> bytes:
        """Polls with pipeline requests until one succeeds; returns its PNG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            status, body = self.post(self.pipeline)
            if status == 200:
                return body
            time.sleep(1)
        raise TimeoutError(f"{self.name} did not serve in {timeout} s:\n"
                           f"{self.log.read_text()[-3000:]}")

    def pause(self) -> None:
        """Stops every process of the tree (SIGSTOP) until resume(): a server that is not being
        measured then takes no CPU at all, not even its timers and heartbeats."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self.process:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


def jpeg_target(path: str, **headers: str) -> Target:
    return Target(path, IMAGE.read_bytes(), {"Content-Type": "image/jpeg", **headers})


def json_target(path: str, doc) -> Target:
    return Target(path, json.dumps(doc).encode(), {"Content-Type": "application/json"})


def prepare_models(work: pathlib.Path, compiled: bool = False) -> pathlib.Path:
    """segmenter.pt, matting.pt (the example's weights) and identity.pt in one folder; with
    `compiled`, segmenter.pt2 (at steps.SIZE) and matting.pt2 too, the same weights compiled."""
    models = work / "models"
    models.mkdir()
    shutil.copy(EXAMPLES / "repository" / "segmenter" / "1" / "model.pt", models / "segmenter.pt")
    shutil.copy(EXAMPLES / "repository" / "matting" / "1" / "model.pt", models / "matting.pt")
    if compiled:
        packages = bench_packages(steps.SIZE)
        for name in ("segmenter", "matting"):
            shutil.copy(packages / name / "1" / "model.pt2", models / f"{name}.pt2")
    torchscript_identity(models / "identity.pt")
    return models


# --- the contenders -------------------------------------------------------------------------

def start_tandem(work: pathlib.Path, models: pathlib.Path, tuned: bool = False,
                 glue: bool = False, compiled: bool = False) -> Server:
    """The example repository with the segmenter at steps.SIZE and, like the other batching
    contenders, batches of up to 4 within 2 ms, or `tuned` as the toolkit's tuned run is
    (common.bench_repository); plus the identity model. With `glue`, the pre- and
    post-processing run in TorchScript glue models instead of the built-in ops (otherwise the
    same). With `compiled`, the two models are AOTInductor packages of the same weights."""
    repository = bench_repository(work / "repository", steps.SIZE,
                                  "aoti" if compiled else "torchscript", tuned)
    if glue:
        glue_models.install(repository, steps.SIZE)
    (repository / "identity" / "1").mkdir(parents=True)
    shutil.copy(models / "identity.pt", repository / "identity" / "1" / "model.pt")
    (repository / "identity" / "model.yaml").write_text(
        "backend: torchscript\nmax_batch_size: 0\n"
        "inputs: [{name: x, datatype: FP32, shape: [1, 16]}]\n"
        "outputs: [{name: output0, datatype: FP32, shape: [1, 16]}]\n")
    port = free_port()
    server = Server(
        "Tandem (tuned)" if tuned else "Tandem, TorchScript glue" if glue else
        "Tandem, compiled models" if compiled else "Tandem",
        "2 instances a model × 1 intra-op thread (OMP_NUM_THREADS=1), one request at a time "
        "(as the tuned toolkit)" if tuned else
        "1 instance a model; LibTorch's default intra-op threads (2), shared; segmenter batches "
        "of up to 4 within 2 ms" + ("; pre- and post-processing in two TorchScript models "
                                    "(bench/pipeline/contenders/glue.py)" if glue else "")
        + ("; the models as AOTInductor packages (backend: aoti)" if compiled else ""), port,
        jpeg_target("/invocations", Accept="image/png",
                    **{"X-Amzn-SageMaker-Target-Model": "remove_background"}),
        json_target("/v2/models/identity/infer",
                    {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 16],
                                 "data": IDENTITY_VALUES[0]}]}))
    server.start([os.environ.get("TANDEM_BIN", str(ROOT / "build" / "tandem")), "serve",
                  "--host", "127.0.0.1", "--port", str(port), "--model-repository",
                  str(repository)], work, TUNED_ENV if tuned else {})
    return server


def start_toolkit(work: pathlib.Path, models: pathlib.Path, tuned: bool,
                  identity: bool = False) -> Server:
    """The seed's inference.py (and the example's models.py) as the toolkit's code/ folder beside
    the weights; or, for the overhead scenario, the identity model.pt alone, which the toolkit's
    default handler serves (JSON in, JSON out)."""
    model = work / "base" / "model"
    code = model / "code"
    code.mkdir(parents=True)
    if identity:
        shutil.copy(models / "identity.pt", model / "model.pt")
    else:
        shutil.copy(models / "segmenter.pt", model)
        shutil.copy(models / "matting.pt", model)
        for source in (CONTENDERS / "seed" / "inference.py", CONTENDERS / "steps.py",
                       EXAMPLES / "remove_background" / "models.py",
                       EXAMPLES / "remove_background" / "handler.py"):
            shutil.copy(source, code)
    port = free_port()
    server = Server(
        f"SageMaker toolkit on TorchServe ({'tuned' if tuned else 'default'})",
        "2 workers × 1 intra-op thread (OMP_NUM_THREADS=1)" if tuned else
        "TorchServe's default: 1 worker a core (2) × 2 intra-op threads", port,
        jpeg_target("/invocations", Accept="image/png"), json_target("/invocations",
                                                                     IDENTITY_VALUES))
    if identity:
        server.pipeline = server.identity
    server.start([str(BENCH_BIN / "python"), str(CONTENDERS / "sagemaker_toolkit.py")], work,
                 {"SAGEMAKER_BASE_DIR": str(work / "base"), "SAGEMAKER_BIND_TO_PORT": str(port),
                  **(TOOLKIT_TUNED if tuned else {})})
    return server


def start_torchserve(work: pathlib.Path, models: pathlib.Path) -> Server:
    store = work / "store"
    archiver = [str(BENCH_BIN / "torch-model-archiver"), "--version", "1.0",
                "--archive-format", "no-archive", "--export-path", str(store)]
    store.mkdir()
    subprocess.run(archiver + [
        "--model-name", "remove_background",
        "--handler", str(CONTENDERS / "torchserve" / "remove_background.py"),
        "--extra-files", ",".join(str(p) for p in (CONTENDERS / "steps.py",
                                                   EXAMPLES / "remove_background" / "handler.py",
                                                   models / "segmenter.pt",
                                                   models / "matting.pt"))], check=True)
    subprocess.run(archiver + [
        "--model-name", "identity", "--handler", str(CONTENDERS / "torchserve" / "identity.py"),
        "--serialized-file", str(models / "identity.pt")], check=True)
    port = free_port()

    def model(name: str, batch: int, delay_ms: int) -> str:
        return (f'"{name}": {{"1.0": {{"defaultVersion": true, "marName": "{name}", '
                f'"minWorkers": 1, "maxWorkers": 1, "batchSize": {batch}, '
                f'"maxBatchDelay": {delay_ms}, "responseTimeout": 120}}}}')

    (work / "config.properties").write_text(
        f"inference_address=http://127.0.0.1:{port}\n"
        f"management_address=http://127.0.0.1:{free_port()}\n"
        f"metrics_address=http://127.0.0.1:{free_port()}\n"
        "disable_token_authorization=true\n"
        "load_models=remove_background,identity\n"
        f"models={{{model('remove_background', 4, 2)}, {model('identity', 1, 0)}}}\n")
    server = Server(
        "TorchServe, batching handler",
        "1 worker a model × 2 intra-op threads; batches of up to 4 within 2 ms", port,
        jpeg_target("/predictions/remove_background"),
        json_target("/predictions/identity", IDENTITY_VALUES))
    server.start([str(BENCH_BIN / "torchserve"), "--start", "--foreground", "--ncs",
                  "--model-store", str(store), "--ts-config", str(work / "config.properties")],
                 work, {})
    return server


def start_ray(work: pathlib.Path, models: pathlib.Path) -> Server:
    port = free_port()
    server = Server(
        "Ray Serve", "1 replica a deployment; model replicas × 2 intra-op threads; "
        "segmenter batches of up to 4 within 2 ms", port,
        jpeg_target("/remove_background"), json_target("/identity", IDENTITY_VALUES))
    server.start([str(BENCH_BIN / "python"), str(CONTENDERS / "ray_serve.py"), str(models),
                  str(port), "2"], work, {})
    return server


def start_gunicorn(work: pathlib.Path, models: pathlib.Path) -> Server:
    port = free_port()
    server = Server(
        "handler.py on gunicorn", "2 sync workers (one a core) × 2 intra-op threads (LibTorch's "
        "default)", port, jpeg_target("/invocations"), json_target("/identity", IDENTITY_VALUES))
    server.start([str(BENCH_BIN / "gunicorn"), "--workers", "2", "--timeout", "120",
                  "--bind", f"127.0.0.1:{port}", "handler_app:app"], work,
                 {"HANDLER_MODEL_DIR": str(models)})
    return server


STARTERS = {
    "toolkit-default": lambda w, m: start_toolkit(w, m, tuned=False),
    "toolkit-tuned": lambda w, m: start_toolkit(w, m, tuned=True),
    "torchserve": start_torchserve,
    "ray": start_ray,
    "handler-gunicorn": start_gunicorn,
    "tandem": start_tandem,
    "tandem-tuned": lambda w, m: start_tandem(w, m, tuned=True),
    "tandem-glue": lambda w, m: start_tandem(w, m, glue=True),
    "tandem-compiled": lambda w, m: start_tandem(w, m, compiled=True),
}
