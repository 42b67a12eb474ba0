"""The deployment recipes (deploy/, Dockerfile, scripts/bundle.sh), checked without a container
engine or a cloud: the entrypoint's environment-to-flag mapping, the bundle the image runs, the
image's build steps, the KServe manifests against a real server, and the SageMaker deploy
script's requests against stubbed boto3 clients."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys

import pytest
import yaml

from support.server import ROOT, TandemServer, tandem_binary

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def environment(**extra):
    """This process's environment (sanitizer options included) without any TANDEM_ or
    SAGEMAKER_ variable, then `extra`."""
    return {**{k: v for k, v in os.environ.items()
               if not k.startswith(("TANDEM_", "SAGEMAKER_"))}, **extra}


def entrypoint(args, env, tandem=None, **kw):
    return subprocess.run([str(ENTRYPOINT), *args], capture_output=True, text=True,
                          env=environment(TANDEM_BIN=tandem or tandem_binary(), **env), **kw)


@pytest.fixture
def fake_tandem(tmp_path):
    """A stand-in for tandem that prints the arguments it was given, as JSON."""
    path = tmp_path / "tandem"
    path.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    path.chmod(0o755)
    return str(path)


def test_entrypoint_maps_the_environment_to_flags(fake_tandem):
    r = entrypoint(["serve", "--port", "9000"], {
        "TANDEM_MODEL_REPOSITORY": "/mnt/models", "TANDEM_DEFAULT_MODEL": "remove_background",
        "TANDEM_HTTP_THREADS": "8", "TANDEM_DEVICES": "cuda:0,cuda:1",
        "TANDEM_LOG_FORMAT": "json", "TANDEM_LOG_LEVEL": "debug",
        "TANDEM_MAX_BODY_BYTES": "6291456", "TANDEM_DRAIN_TIMEOUT": "20",
        "TANDEM_MODEL_CONTROL_MODE": "explicit", "TANDEM_REPOSITORY_POLL_SECS": "5",
        "TANDEM_LOAD_MODELS": "segmenter,remove_background", "TANDEM_STRICT": "true",
        "TANDEM_MODEL_LOAD_MEMORY_LIMIT": "cpu=8000000000,cuda:0=0.9",
        "TANDEM_GRPC_PORT": "9001", "TANDEM_ALLOW_GRPC": "true"},
        tandem=fake_tandem)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        "serve", "--model-repository", "/mnt/models", "--default-model", "remove_background",
        "--http-threads", "8", "--devices", "cuda:0,cuda:1", "--log-format", "json",
        "--log-level", "debug", "--max-body-bytes", "6291456", "--drain-timeout", "20",
        "--model-control-mode", "explicit", "--repository-poll-secs", "5",
        "--model-load-memory-limit", "cpu=8000000000,cuda:0=0.9", "--grpc-port", "9001",
        "--allow-grpc", "true",
        "--load-model", "segmenter", "--load-model", "remove_background",
        "--strict", "--port", "9000"]


def test_entrypoint_without_environment_leaves_the_defaults(fake_tandem):
    r = entrypoint(["serve"], {"TANDEM_STRICT": "false", "TANDEM_DEVICES": ""},
                   tandem=fake_tandem)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["serve"]


def test_entrypoint_runs_other_commands_as_given(fake_tandem):
    r = entrypoint(["echo", "hello"], {}, tandem=fake_tandem)
    assert (r.returncode, r.stdout) == (0, "hello\n")


def test_entrypoint_rejects_a_bad_strict_value(fake_tandem):
    r = entrypoint(["serve"], {"TANDEM_STRICT": "maybe"}, tandem=fake_tandem)
    assert r.returncode == 2 and "TANDEM_STRICT must be true or false, got 'maybe'" in r.stderr


def test_tandem_rejects_a_bad_value_the_entrypoint_passes_on():
    r = entrypoint(["serve"], {"TANDEM_LOG_FORMAT": "xml"})
    assert r.returncode != 0 and "--log-format" in r.stderr + r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_as_a_sagemaker_container_and_drain_on_sigterm(repository):
    """What SageMaker does: `serve` with SAGEMAKER_BIND_TO_PORT, /ping, SIGTERM to PID 1 (the
    entrypoint execs tandem, so the signal reaches it), exit 0 after draining."""
    port = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), "serve"], stderr=subprocess.PIPE, text=True,
        env=environment(TANDEM_BIN=tandem_binary(), TANDEM_MODEL_REPOSITORY=str(repository),
                        SAGEMAKER_BIND_TO_PORT=str(port), TANDEM_DEFAULT_MODEL="classifier",
                        TANDEM_LOG_FORMAT="json"))
    try:
        server = TandemServer(process, port)
        server.wait_ready()
        assert server.get("/ping").status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        lines = [json.loads(line) for line in process.stderr.read().splitlines() if line]
        assert any("draining" in line["message"] for line in lines), lines
    finally:
        process.kill()


def test_bundle_holds_everything_but_the_base_system(tmp_path):
    out = tmp_path / "bundle"
    subprocess.run([str(ROOT / "scripts" / "bundle.sh"), str(pathlib.Path(tandem_binary()).parent),
                    str(out)], check=True, capture_output=True)
    env = environment(LD_LIBRARY_PATH=str(out / "lib"))
    ldd = subprocess.run(["ldd", str(out / "bin" / "tandem")], env=env, capture_output=True,
                         text=True, check=True).stdout
    resolved = re.findall(r"=> (/\S+)", ldd)
    assert "not found" not in ldd
    outside = {pathlib.Path(p).name.split(".so")[0] for p in resolved
               if not p.startswith(str(out / "lib"))}
    assert outside <= {"libc", "libm", "libdl", "libpthread", "librt", "libstdc++", "libgcc_s"}
    assert any("libtorch_cpu" in p for p in resolved)
    assert (out / "lib" / "libc10_cuda.so").exists()  # loaded only on GPU machines
    version = subprocess.run([str(out / "bin" / "tandem"), "version"], env=env,
                             capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("tandem ")


def dockerfile_stages():
    """The Dockerfile as [(stage base, [instructions])], continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "FROM":
            stages.append((rest, []))
        elif stages:
            stages[-1][1].append((word, rest))
    return stages


def test_dockerfile_builds_with_the_ci_scripts_and_runs_as_a_user():
    (build_base, build), (run_base, run) = dockerfile_stages()
    assert "devel" in build_base and "runtime" in run_base and "nvidia/cuda" in run_base
    build_steps = " ".join(rest for word, rest in build if word == "RUN")
    assert "make build SETUP_FLAGS=--build-only" in build_steps
    assert "scripts/bundle.sh build /opt/tandem" in build_steps
    final = dict(run)
    assert final["USER"] not in ("root", "0")
    assert final["EXPOSE"] == "8080 8001"  # HTTP (SageMaker routes only this), gRPC
    assert json.loads(final["ENTRYPOINT"]) == ["/opt/tandem/bin/entrypoint.sh"]
    assert json.loads(final["CMD"]) == ["serve"]
    assert "LD_LIBRARY_PATH=/opt/tandem/lib" in final["ENV"]
    for word, rest in run:
        if word == "COPY" and not rest.startswith("--from"):
            assert (ROOT / rest.split()[0]).exists(), rest
    # The Makefile target and setup flag the build stage relies on exist.
    assert "SETUP_FLAGS" in (ROOT / "Makefile").read_text()
    assert "--build-only" in (ROOT / "scripts" / "setup.sh").read_text()


def kserve(name):
    return yaml.safe_load((ROOT / "deploy" / "kserve" / name).read_text())


def test_kserve_manifests_match_the_server(repository):
    runtime = kserve("servingruntime.yaml")
    service = kserve("inferenceservice.yaml")
    assert runtime["kind"] == "ServingRuntime" and service["kind"] == "InferenceService"
    assert runtime["spec"]["protocolVersions"] == ["v2"]
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in [f["name"] for f in
                                            runtime["spec"]["supportedModelFormats"]]
    (container,) = runtime["spec"]["containers"]
    assert container["args"] == ["serve"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TANDEM_MODEL_REPOSITORY"] == "/mnt/models"  # where KServe puts storageUri
    for name in env:
        assert name in ENTRYPOINT.read_text(), f"the entrypoint does not read {name}"
    (port,) = container["ports"]
    annotations = runtime["spec"]["annotations"]
    assert port["containerPort"] == 8080 == int(annotations["prometheus.io/port"])
    assert container["resources"]["limits"]["nvidia.com/gpu"]

    # Serve the repository as the runtime would, and ask what the probes and Prometheus ask.
    port_number = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), *container["args"], "--port", str(port_number)],
        stderr=subprocess.DEVNULL,
        env=environment(TANDEM_BIN=tandem_binary(),
                        **{**env, "TANDEM_MODEL_REPOSITORY": str(repository)}))
    try:
        server = TandemServer(process, port_number)
        server.wait_ready()
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] == 8080
            assert server.get(container[probe]["httpGet"]["path"]).status == 200, probe
        metrics = server.get(annotations["prometheus.io/path"])
        assert metrics.status == 200 and b"tandem_" in metrics.body
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


# --- the SageMaker deploy script, against stubbed clients ----------------------------------

sys.path.insert(0, str(ROOT / "deploy" / "sagemaker"))
import deploy as sagemaker_deploy  # noqa: E402

ARGS = ["--name", "remove-background",
        "--image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/tandem:0.1.0",
        "--model-data", "s3://bucket/remove-background/model.tar.gz",
        "--role", "arn:aws:iam::123456789012:role/SageMakerExecution",
        "--instance-type", "ml.g5.12xlarge", "--instance-count", "2",
        "--max-instance-count", "6", "--invocations-per-instance", "900",
        "--env", "TANDEM_DEFAULT_MODEL=remove_background", "--env", "TANDEM_LOG_FORMAT=json"]


def stubbed_clients():
    import boto3
    from botocore.stub import Stubber

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                            region_name="us-east-1")
    sm, scaling = session.client("sagemaker"), session.client("application-autoscaling")
    return sm, scaling, Stubber(sm), Stubber(scaling)


def test_sagemaker_deploy_sends_the_expected_requests():
    """Stubber checks each request against the service's own API model (names, types, required
    fields) and against the parameters expected here."""
    import datetime

    sm, scaling, sm_stub, scaling_stub = stubbed_clients()
    name, arn = "remove-background", "arn:aws:sagemaker:us-east-1:123456789012:"
    sm_stub.add_response("create_model", {"ModelArn": arn + "model/" + name}, {
        "ModelName": name,
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
        "PrimaryContainer": {
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tandem:0.1.0",
            "ModelDataUrl": "s3://bucket/remove-background/model.tar.gz",
            "Environment": {"TANDEM_DEFAULT_MODEL": "remove_background",
                            "TANDEM_LOG_FORMAT": "json"}}})
    sm_stub.add_response("create_endpoint_config",
                         {"EndpointConfigArn": arn + "endpoint-config/" + name}, {
        "EndpointConfigName": name,
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name,
                                "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": 2,
                                "ContainerStartupHealthCheckTimeoutInSeconds": 600}]})
    sm_stub.add_response("create_endpoint", {"EndpointArn": arn + "endpoint/" + name},
                         {"EndpointName": name, "EndpointConfigName": name})
    now = datetime.datetime(2026, 11, 28)
    sm_stub.add_response("describe_endpoint", {
        "EndpointName": name, "EndpointArn": arn + "endpoint/" + name,
        "EndpointConfigName": name, "EndpointStatus": "InService", "CreationTime": now,
        "LastModifiedTime": now}, {"EndpointName": name})
    resource = {"ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/remove-background/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    scaling_stub.add_response("register_scalable_target", {},
                              {**resource, "MinCapacity": 2, "MaxCapacity": 6})
    scaling_stub.add_response("put_scaling_policy", {"PolicyARN": "arn:policy"}, {
        **resource, "PolicyName": "remove-background-invocations-per-instance",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 900.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": 60, "ScaleInCooldown": 300}})
    with sm_stub, scaling_stub:
        sagemaker_deploy.deploy(sagemaker_deploy.parse_args(ARGS), sm, scaling)
        sm_stub.assert_no_pending_responses()
        scaling_stub.assert_no_pending_responses()


def test_sagemaker_deploy_without_waiting_skips_autoscaling():
    sm, scaling, sm_stub, scaling_stub = stubbed_clients()
    arn = "arn:aws:sagemaker:us-east-1:123456789012:"
    for operation, response in (
            ("create_model", {"ModelArn": arn + "model/remove-background"}),
            ("create_endpoint_config", {"EndpointConfigArn": arn + "endpoint-config/rb"}),
            ("create_endpoint", {"EndpointArn": arn + "endpoint/remove-background"})):
        sm_stub.add_response(operation, response)
    with sm_stub, scaling_stub:
        sagemaker_deploy.deploy(sagemaker_deploy.parse_args(ARGS + ["--no-wait"]), sm, scaling)
        sm_stub.assert_no_pending_responses()


@pytest.mark.parametrize("change, message", [
    (["--model-data", "/local/model.tar.gz"], "--model-data must be an s3:// URI"),
    (["--instance-count", "8"], "need 1 <= --instance-count <= --max-instance-count"),
    (["--env", "NOEQUALS"], "--env takes KEY=VALUE, got 'NOEQUALS'"),
    (["--invocations-per-instance", "0"], "--invocations-per-instance must be positive"),
])
def test_sagemaker_deploy_rejects_bad_arguments(change, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sagemaker_deploy.parse_args(ARGS + change)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
