#!/usr/bin/env bash
# The container's entrypoint. `docker run <image> serve` (the SageMaker hosting contract) starts
# `tandem serve` with flags taken from the environment; any other command runs as given (for
# example `tandem check /opt/ml/model`).
#
# Environment → flag (unset or empty: the flag's default):
#   TANDEM_MODEL_REPOSITORY  --model-repository  (default /opt/ml/model, where SageMaker unpacks
#                                                 model.tar.gz)
#   TANDEM_DEFAULT_MODEL     --default-model     (SAGEMAKER_TANDEM_DEFAULT_MODEL also works)
#   TANDEM_HTTP_THREADS      --http-threads
#   TANDEM_DEVICES           --devices           (e.g. cuda:0,cuda:1)
#   TANDEM_LOG_FORMAT        --log-format        (text | json)
#   TANDEM_LOG_LEVEL         --log-level
#   TANDEM_MAX_BODY_BYTES    --max-body-bytes
#   TANDEM_DRAIN_TIMEOUT     --drain-timeout     (SageMaker sends SIGKILL 30 s after SIGTERM)
#   TANDEM_STRICT=true       --strict
#   TANDEM_MODEL_CONTROL_MODE --model-control-mode (none | explicit | poll)
#   TANDEM_LOAD_MODELS       --load-model, once per comma-separated name (explicit mode)
#   TANDEM_REPOSITORY_POLL_SECS --repository-poll-secs (poll mode)
#   TANDEM_MODEL_LOAD_MEMORY_LIMIT --model-load-memory-limit (e.g. cpu=8000000000,cuda:0=0.9)
#   TANDEM_GRPC_PORT         --grpc-port         (default 8001)
#   TANDEM_GRPC_THREADS      --grpc-threads
#   TANDEM_ALLOW_GRPC        --allow-grpc        (true | false; default off in SageMaker mode)
# SAGEMAKER_BIND_TO_PORT is read by tandem itself (else port 8080). In SageMaker mode (no
# TANDEM_MODEL_REPOSITORY) Tandem opens no port other than that one, so SAGEMAKER_SAFE_PORT_RANGE
# needs nothing from it.
set -euo pipefail
tandem=${TANDEM_BIN:-tandem}

if [ "${1:-}" != serve ]; then
  exec "$@"
fi
shift

flags=()
add() {  # add FLAG VALUE: adds the flag when the value is set
  [ -n "${2:-}" ] && flags+=("$1" "$2")
  return 0
}
add --model-repository "${TANDEM_MODEL_REPOSITORY:-}"
add --default-model "${TANDEM_DEFAULT_MODEL:-}"
add --http-threads "${TANDEM_HTTP_THREADS:-}"
add --devices "${TANDEM_DEVICES:-}"
add --log-format "${TANDEM_LOG_FORMAT:-}"
add --log-level "${TANDEM_LOG_LEVEL:-}"
add --max-body-bytes "${TANDEM_MAX_BODY_BYTES:-}"
add --drain-timeout "${TANDEM_DRAIN_TIMEOUT:-}"
add --model-control-mode "${TANDEM_MODEL_CONTROL_MODE:-}"
add --repository-poll-secs "${TANDEM_REPOSITORY_POLL_SECS:-}"
add --model-load-memory-limit "${TANDEM_MODEL_LOAD_MEMORY_LIMIT:-}"
add --grpc-port "${TANDEM_GRPC_PORT:-}"
add --grpc-threads "${TANDEM_GRPC_THREADS:-}"
add --allow-grpc "${TANDEM_ALLOW_GRPC:-}"
IFS=, read -r -a load_models <<<"${TANDEM_LOAD_MODELS:-}"
for name in "${load_models[@]}"; do add --load-model "$name"; done
case "${TANDEM_STRICT:-}" in
  true | 1) flags+=(--strict) ;;
  "" | false | 0) ;;
  *) echo "entrypoint: TANDEM_STRICT must be true or false, got '$TANDEM_STRICT'" >&2; exit 2 ;;
esac

# exec: tandem is PID 1's direct replacement, so SIGTERM from the platform reaches it and drains.
exec "$tandem" serve "${flags[@]}" "$@"
