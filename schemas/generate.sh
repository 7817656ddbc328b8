#!/usr/bin/env bash
# Regenerates the Go code for every .proto file under schemas/proto.
#
#   schemas/generate.sh          rewrite the generated .pb.go files
#   schemas/generate.sh --check  fail if the committed files are stale
#
# protoc comes from the system (or $PROTOC); it is not installed here so that
# a missing compiler is a clear failure rather than a silent download.
# protoc-gen-go is built from the version pinned by the tool directive in
# go.mod, so every machine generates with the same plugin.
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

schemas_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module_dir=$(dirname "$schemas_dir")
go_package_root=github.com/titan-commerce/titan/schemas

protoc=${PROTOC:-protoc}
if ! command -v "$protoc" >/dev/null 2>&1; then
	echo "generate.sh: protoc not found (looked for '$protoc')." >&2
	echo "  Debian/Ubuntu: apt-get install -y protobuf-compiler" >&2
	echo "  macOS:         brew install protobuf" >&2
	echo "  or set PROTOC to the compiler's path." >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$module_dir" && go build -o "$tmp/bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)

# Relative, sorted input paths keep the "source:" comments and the order of
# the generated files independent of where the checkout lives and of the
# file system's directory order.
cd "$schemas_dir/proto"
protos=()
while IFS= read -r f; do
	protos+=("${f#./}")
done < <(find . -name '*.proto' | LC_ALL=C sort)
if [ "${#protos[@]}" -eq 0 ]; then
	echo "generate.sh: no .proto files under $schemas_dir/proto" >&2
	exit 1
fi

mkdir -p "$tmp/out"
"$protoc" \
	--plugin=protoc-gen-go="$tmp/bin/protoc-gen-go" \
	--proto_path=. \
	--go_out="$tmp/out" \
	--go_opt=module="$go_package_root" \
	"${protos[@]}"

# Generated files live next to hand-written ones (schemas/codec, topics.go),
# so only *.pb.go files outside proto/ belong to this script.
list_generated() {
	(cd "$1" && find . -path ./proto -prune -o -name '*.pb.go' -print | LC_ALL=C sort)
}

# protoc-gen-go stamps the compiler's version into every file. The stamp
# alone would make the same schema churn between machines with different
# protoc releases and fail --check for no reason; a real difference in the
# descriptors protoc emits still shows. "(unknown)" is what protoc-gen-go
# itself writes when the compiler gives no version.
list_generated "$tmp/out" | while IFS= read -r f; do
	sed -E 's#^//[[:space:]]+protoc[[:space:]]+v[0-9][^[:space:]]*$#// 	protoc        (unknown)#' \
		"$tmp/out/$f" >"$tmp/out/$f.tmp"
	mv "$tmp/out/$f.tmp" "$tmp/out/$f"
done

if $check; then
	stale=false
	if ! diff <(list_generated "$schemas_dir") <(list_generated "$tmp/out") >/dev/null; then
		stale=true
	else
		while IFS= read -r f; do
			cmp -s "$schemas_dir/$f" "$tmp/out/$f" || stale=true
		done < <(list_generated "$tmp/out")
	fi
	if $stale; then
		echo "generate.sh: generated code is stale; run schemas/generate.sh" >&2
		exit 1
	fi
	exit 0
fi

list_generated "$schemas_dir" | while IFS= read -r f; do
	rm -f "$schemas_dir/$f"
done
list_generated "$tmp/out" | while IFS= read -r f; do
	mkdir -p "$schemas_dir/$(dirname "$f")"
	cp "$tmp/out/$f" "$schemas_dir/$f"
done
