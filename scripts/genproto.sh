#!/usr/bin/env bash
# Regenerates gen/ from proto/ with pinned generators. protoc comes from
# Debian's protobuf-compiler; the plugins are installed into a temporary GOBIN.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "genproto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
rm -rf gen
mkdir -p gen
PATH=$bin:$PATH protoc -I proto \
  --go_out=gen --go_opt=paths=source_relative \
  --connect-go_out=gen --connect-go_opt=paths=source_relative \
  proto/mmsb/v1/bus.proto
