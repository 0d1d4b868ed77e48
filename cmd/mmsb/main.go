// Command mmsb is the command-line tool of the Memory-Mapped State Bus:
// benchmarks, offline checks, inspection, point-in-time replay, manual
// checkpoints and dependency-graph views of an MMSB data directory.
//
// Every subcommand has --help. Exit status: 0 on success, 1 when the command
// failed or found problems, 2 on a usage error. See docs/cli.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := interruptContext(os.Stderr, os.Exit)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels, so that long work (bench, replay) stops at the next batch and
// serve shuts down gracefully, still closing the bus cleanly. A second
// signal calls exit(exitFailure) at once: a graceful shutdown can hang on
// something outside the process (a client that never finishes its
// request, a watcher) for as long as --shutdown-timeout, and a user who
// presses Ctrl-C again means "now". stop releases the signals and the
// watching goroutine.
func interruptContext(stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "mmsb: second signal (%v): exiting now, graceful shutdown cut short\n", sig)
			exit(exitFailure)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
