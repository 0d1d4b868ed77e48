// Command mmsb is the command-line tool of the Memory-Mapped State Bus:
// benchmarks, offline checks, inspection, point-in-time replay, manual
// checkpoints and dependency-graph views of an MMSB data directory.
//
// Every subcommand has --help. Exit status: 0 on success, 1 when the command
// failed or found problems, 2 on a usage error. See docs/cli.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl-C cancels the command's context, so that long work (bench,
	// replay) stops at the next batch and still closes the bus cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
