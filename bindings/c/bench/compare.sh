#!/usr/bin/env bash
# compare.sh: Go API vs C ABI vs Python writer on the same commit workload
# (docs/bindings.md "Performance"), interleaved so that a noisy machine
# hurts all three alike. Run from the repository root:
#
#     bindings/c/bench/compare.sh [rounds]
#
# Prints the load average, then per round: the Go benchmark (batches of
# 1,000 and of 1), the C benchmark (array and struct forms, batches of
# 1,000, then batches of 1) and the Python benchmark.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-5}
mkdir -p build
go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
gcc -O2 -Wall -Werror -Ibindings/c -o build/commit_bench bindings/c/bench/commit_bench.c \
	-Lbuild -lmmsb -Wl,-rpath,'$ORIGIN'
go test -c -o build/bindings.test ./bindings/c
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	echo "--- round $r (load $(cut -d' ' -f1 /proc/loadavg))"
	build/bindings.test -test.run '^$' -test.bench 'GoCommit' -test.benchtime 1s | grep Benchmark
	build/commit_bench 1000 2000 1
	build/commit_bench 1 20000 1
	MMSB_LIB=build/libmmsb.so /usr/bin/python3 examples/python-writer/bench.py --rounds 1
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
