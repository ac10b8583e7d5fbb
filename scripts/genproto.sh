#!/usr/bin/env bash
# genproto.sh regenerates the committed gRPC/protobuf Go code under proto/.
#
# It uses Debian's protobuf-compiler (installed with apt-get if protoc is
# missing) and pinned protoc-gen-go / protoc-gen-go-grpc plugins installed into
# scripts/.bin (ignored by git), so that the output depends only on the pinned versions below and
# not on whatever happens to be on $PATH. Safe to run repeatedly.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# protoc-gen-go must match the google.golang.org/protobuf runtime in go.mod.
PROTOC_GEN_GO_VERSION="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"

BIN="$REPO/scripts/.bin"
mkdir -p "$BIN"

if ! command -v protoc >/dev/null 2>&1; then
	echo "genproto: protoc not found; installing Debian protobuf-compiler" >&2
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	else
		SUDO=
	fi
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends protobuf-compiler
fi

# install_plugin NAME PACKAGE VERSION installs PACKAGE@VERSION into $BIN unless
# the binary already there reports VERSION.
install_plugin() {
	local name="$1" pkg="$2" version="$3" have=""
	if [ -x "$BIN/$name" ]; then
		have="$("$BIN/$name" --version 2>/dev/null | awk '{print $NF}' || true)"
	fi
	# protoc-gen-go prints "v1.36.x", protoc-gen-go-grpc prints "1.6.x".
	if [ "v${have#v}" != "$version" ]; then
		echo "genproto: installing $pkg@$version" >&2
		GOBIN="$BIN" go install "$pkg@$version"
	fi
}
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

mapfile -t PROTOS < <(find proto -name '*.proto' | LC_ALL=C sort)
if [ "${#PROTOS[@]}" -eq 0 ]; then
	echo "genproto: no .proto files under proto/" >&2
	exit 1
fi

PATH="$BIN:$PATH" protoc \
	--proto_path=proto \
	--go_out=proto --go_opt=paths=source_relative \
	--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	"${PROTOS[@]#proto/}"

echo "genproto: generated code for ${PROTOS[*]} with protoc $(protoc --version | awk '{print $NF}'), protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION" >&2
