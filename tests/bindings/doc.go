// Package bindings runs the tests of the readers that do not use Go
// (docs/bindings.md, "Tier 0"): the pure-Python reader's pytest suite
// (python/tests) with Debian's /usr/bin/python3, numpy and pytest, and the
// C reader's test program (bindings/c/test) built with gcc -Wall -Werror
// and -fsanitize=address,undefined, both against the Go test writer
// internal/cmd/shmwriter. So `go test ./...` covers them. Without the
// outside programs the tests skip, naming them; with
// MMSB_REQUIRE_EXTERNAL=1 (CI) they fail instead.
package bindings
