#!/usr/bin/env bash
# Starts `tandem serve` on a repository, waits until /ping says ready, prints a request to try,
# then serves until interrupted. Usage: run_example.sh TANDEM_BIN REPOSITORY PORT [SERVE FLAGS...]
set -euo pipefail
bin=$1 repository=$2 port=$3
shift 3

"$bin" serve --model-repository "$repository" --port "$port" "$@" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM

for _ in $(seq 1 600); do
  if curl -sf "localhost:$port/ping" >/dev/null 2>&1; then break; fi
  if ! kill -0 $server 2>/dev/null; then wait $server; exit 1; fi
  sleep 0.1
done
cat <<MSG

Tandem is serving $repository on port $port. Try:

  # the classifier (the default model), a v2 JSON request:
  curl -s -X POST localhost:$port/invocations -H 'Content-Type: application/json' \\
       -d @examples/classifier/sample_request.json

  # the remove_background pipeline: a JPEG in, its alpha matte as a PNG out:
  curl -s -X POST localhost:$port/invocations -H 'X-Amzn-SageMaker-Target-Model: remove_background' \\
       -H 'Content-Type: image/jpeg' -H 'Accept: image/png' \\
       --data-binary @examples/remove_background/sample.jpg -o alpha.png

Ctrl-C stops the server.
MSG
wait $server
