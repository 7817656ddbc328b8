#!/usr/bin/env bash
# Regenerates src/gen from schemas/proto with the buf and protoc-gen-es pinned in package-lock.json.
#
#   scripts/generate.sh          rewrite src/gen
#   scripts/generate.sh --check  fail if the committed src/gen is not what the .proto files give
set -euo pipefail

check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

pkg=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
proto=$(cd "$pkg/../../schemas/proto" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The plugin is found on PATH by its name, as buf.gen.yaml names it.
export PATH="$pkg/node_modules/.bin:$PATH"
(cd "$pkg" && buf generate "$proto" --template buf.gen.yaml -o "$tmp")

if $check; then
	if ! diff -r "$pkg/src/gen" "$tmp/src/gen" >/dev/null; then
		echo "generate.sh: sdk/node/src/gen is stale; run npm run generate in sdk/node" >&2
		exit 1
	fi
	exit 0
fi
rm -rf "$pkg/src/gen"
mkdir -p "$pkg/src"
cp -r "$tmp/src/gen" "$pkg/src/gen"
