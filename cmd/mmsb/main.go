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
	"sync"
	"syscall"
	"time"
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
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stopWatch := watchSignals(sigs, stderr, exit, time.Now)
	return ctx, func() {
		signal.Stop(sigs)
		stopWatch()
	}
}

// duplicateSignalWindow: a second signal this soon after the first is the
// same request delivered twice, not a user's "now". timeout(1) signals its
// child and then the child's process group, so `timeout 10 mmsb serve`
// received SIGTERM twice within microseconds and exited 1 saying its
// graceful shutdown was cut short (TestSignalDeliveredTwiceIsOneRequest).
const duplicateSignalWindow = 500 * time.Millisecond

// watchSignals is interruptContext's watcher over sigs, with its clock.
// Once stop has been called (the command's work has returned), no signal
// calls exit: main exits with the command's own status.
func watchSignals(sigs <-chan os.Signal, stderr io.Writer, exit func(int), now func() time.Time) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex // held while deciding to exit, and by stop
	stopped := false
	done := make(chan struct{})
	go func() {
		var first time.Time
		select {
		case <-sigs:
			first = now()
			cancel()
		case <-done:
			return
		}
		for {
			select {
			case sig := <-sigs:
				if now().Sub(first) < duplicateSignalWindow {
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				if stopped {
					return
				}
				fmt.Fprintf(stderr, "mmsb: second signal (%v): exiting now, graceful shutdown cut short\n", sig)
				exit(exitFailure)
				return
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		close(done)
		cancel()
	}
}
