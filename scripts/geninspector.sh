#!/usr/bin/env bash
# Regenerates gen/mmsb/inspector from proto/mmsb/inspector with pinned
# generators (protoc from Debian's protobuf-compiler). CI runs it and fails
# when the checked-in code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin GOFLAGS=-mod=mod go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin GOFLAGS=-mod=mod go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
PATH="$bin:$PATH" protoc -I proto \
	--go_out=. --go_opt=module=github.com/mmsb-go/mmsb \
	--connect-go_out=. --connect-go_opt=module=github.com/mmsb-go/mmsb \
	proto/mmsb/inspector/v1/inspector.proto
