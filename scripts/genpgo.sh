#!/usr/bin/env bash
# Regenerates cmd/mmsb/default.pgo, the CPU profile from which the Go
# toolchain optimizes the mmsb command (go build, go run and go test of
# ./cmd/mmsb use it automatically: profile-guided optimization). The
# profile covers the validation targets and the commit benchmark in memory
# and on disk. Run it on a quiet machine after changes to the hot paths;
# docs/benchmarks.md ("Profile-guided optimization") says what it gains.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -pgo=off -o "$tmp/mmsb" ./cmd/mmsb
# validate exits 1 when a timing target is missed; its profile is still
# a profile of the work.
"$tmp/mmsb" --cpuprofile "$tmp/validate.prof" validate >/dev/null || echo "genpgo: validate reported a miss (profile kept)" >&2
"$tmp/mmsb" --cpuprofile "$tmp/bench-mem.prof" bench --pages 1048576 --count 10000000 --no-verify >/dev/null
"$tmp/mmsb" --cpuprofile "$tmp/bench-disk.prof" bench --dir "$tmp/data" --count 5000000 >/dev/null
go tool pprof -proto "$tmp/validate.prof" "$tmp/bench-mem.prof" "$tmp/bench-disk.prof" >"$tmp/default.pgo"
mv "$tmp/default.pgo" cmd/mmsb/default.pgo
echo "genpgo: wrote cmd/mmsb/default.pgo ($(wc -c <cmd/mmsb/default.pgo) bytes)"
