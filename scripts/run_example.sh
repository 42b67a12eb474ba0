#!/usr/bin/env bash
# Starts `tandem serve` on a repository, waits until /ping says ready, prints a request to try,
# then serves until interrupted. Usage: run_example.sh TANDEM_BIN REPOSITORY PORT
set -euo pipefail
bin=$1 repository=$2 port=$3

"$bin" serve --model-repository "$repository" --port "$port" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM

for _ in $(seq 1 600); do
  if curl -sf "localhost:$port/ping" >/dev/null 2>&1; then break; fi
  if ! kill -0 $server 2>/dev/null; then wait $server; exit 1; fi
  sleep 0.1
done
cat <<MSG

Tandem is serving $repository on port $port. Try:

  curl -s -X POST localhost:$port/invocations -H 'Content-Type: application/json' \\
       -d @examples/classifier/sample_request.json

Ctrl-C stops the server.
MSG
wait $server
