#!/usr/bin/env bash
# readyz-time.sh: starts a titan binary, prints the seconds from its start
# to the first 200 on /readyz, and stops it.
#
#   bash deploy/readyz-time.sh BINARY PORT [titan run flags...]
#
# A cold start is a first run: a fresh --namespace and --state-dir on a real
# broker (the embedded one is always cold). Run it again with the same
# flags for a warm start.
set -euo pipefail
bin=$1 port=$2
shift 2
log=$(mktemp)
start=$(date +%s.%N)
"$bin" run --http-addr "127.0.0.1:$port" "$@" >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
	if ! kill -0 $pid 2>/dev/null; then
		echo "titan exited:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done
end=$(date +%s.%N)
printf 'first 200 on /readyz after %.1f s\n' "$(echo "$end - $start" | bc)"
grep -o 'msg=ready took=[^ ]*' "$log" || true
