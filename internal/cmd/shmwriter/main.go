// Command shmwriter is the test writer of the shared-memory readers that do
// not use Go (python/mmsb, bindings/c/mmsb_reader.h): it opens a bus with
// Options.Shared and commits pages whose every 8-byte word holds one
// value, so that a reader that copied a page while it changed (a torn
// read) sees two different words. It is a test tool, not part of the
// product (docs/bindings.md).
//
// Usage:
//
//	shmwriter -dir BUS [-shm DIR] [-pages N] [-size BYTES] [-mode busy|static|tick] [-interval D] [-churn] [-for DURATION] [-stdin]
//
// It prints one line "READY pid=P region=R first=F pages=N lsn=L" once the
// pages exist (IDs F..F+N-1) and the region is published, then:
//
//   - mode static: page F+i holds the word F+i in every 8-byte word, and
//     nothing else is committed, except that with -stdin each line "grow"
//     creates -grow more pages the same way (then it prints "GROWN
//     pages=N lsn=L"): the slot arrays and chunks grow under a reader;
//   - mode tick: every -interval one commit writes the wall-clock time in
//     ns (CLOCK_REALTIME) into every word of page F, so that a reader woken
//     by the commit can measure how late it saw it;
//   - mode busy: batches of 16 deltas each rewrite a whole random page with
//     the next counter value (1, 2, 3, ...), as fast as it can; with -churn
//     every 20th batch also creates a page and frees the oldest extra one
//     (growth, slot and cell reuse).
//
// It stops, closes the bus and prints "DONE commits=C lsn=L" on SIGTERM or
// SIGINT, after -for (0: no limit), or, with -stdin, when its stdin reaches
// end of file (so a test's writer ends with the test process).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// uniformPage returns size bytes whose every 8-byte word holds v.
func uniformPage(size int, v uint64) []byte {
	b := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], v)
	}
	return b
}

// growPages creates n more pages in batches of 1,000, each holding its ID
// in every word (as static mode's first pages), and returns the number of
// live pages.
func growPages(ctx context.Context, bus *mmsb.Bus, n, size int) (int, error) {
	for done := 0; done < n; {
		specs := make([]mmsb.PageSpec, min(1000, n-done))
		for i := range specs {
			specs[i].Size = size
		}
		ids, err := bus.CreatePages(ctx, specs)
		if err != nil {
			return 0, err
		}
		ds := make([]mmsb.Delta, len(ids))
		for i, id := range ids {
			ds[i] = mmsb.Write(id, 0, uniformPage(size, uint64(id)))
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			return 0, err
		}
		done += len(ids)
	}
	infos, err := bus.Pages()
	return len(infos), err
}

func run(args []string) int {
	fs := flag.NewFlagSet("shmwriter", flag.ContinueOnError)
	dir := fs.String("dir", "", "bus directory (required)")
	shm := fs.String("shm", "", "tmpfs directory for the shared region (default /dev/shm)")
	pages := fs.Int("pages", 64, "pages to create (on a fresh bus)")
	size := fs.Int("size", 1024, "page size in bytes (a multiple of 8)")
	mode := fs.String("mode", "busy", "busy (keep committing), static (write once, then idle) or tick (one stamped commit per -interval)")
	interval := fs.Duration("interval", time.Millisecond, "tick mode: time between commits")
	churn := fs.Bool("churn", false, "busy mode: also create and free pages")
	dur := fs.Duration("for", 0, "stop after this long (0: until SIGTERM/SIGINT, or stdin's end with -stdin)")
	growBy := fs.Int("grow", 20000, "static mode with -stdin: pages created on each \"grow\" line (past the first slot-array reservation of 16 Ki slots)")
	stdinEOF := fs.Bool("stdin", false, "also stop when stdin reaches end of file (a parent process closing the pipe)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || *pages <= 0 || *size <= 0 || *size%8 != 0 || (*mode != "busy" && *mode != "static" && *mode != "tick") || *interval <= 0 {
		fmt.Fprintln(os.Stderr, "shmwriter: need -dir, -pages > 0, -size a positive multiple of 8, -mode busy|static|tick, -interval > 0")
		return 2
	}
	ctx := context.Background()
	bus, err := mmsb.Open(*dir, &mmsb.Options{Shared: true, SharedDir: *shm, Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		fmt.Fprintln(os.Stdout, "FAIL open:", err)
		return 1
	}
	defer func() { _ = bus.Close() }() // the error path only; the clean path closes below
	var ids []mmsb.PageID
	infos, err := bus.Pages()
	if err != nil {
		fmt.Fprintln(os.Stdout, "FAIL pages:", err)
		return 1
	}
	for _, p := range infos {
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		specs := make([]mmsb.PageSpec, *pages)
		for i := range specs {
			specs[i].Size = *size
		}
		if ids, err = bus.CreatePages(ctx, specs); err != nil {
			fmt.Fprintln(os.Stdout, "FAIL create:", err)
			return 1
		}
		if *mode == "static" {
			ds := make([]mmsb.Delta, len(ids))
			for i, id := range ids {
				ds[i] = mmsb.Write(id, 0, uniformPage(*size, uint64(id)))
			}
			if _, err := bus.Commit(ctx, ds); err != nil {
				fmt.Fprintln(os.Stdout, "FAIL commit:", err)
				return 1
			}
		}
	}
	fmt.Fprintf(os.Stdout, "READY pid=%d region=%s first=%d pages=%d lsn=%d\n", os.Getpid(), bus.SharedPath(), ids[0], len(ids), bus.LastLSN())

	var stop atomic.Bool
	grow := make(chan struct{}, 16)
	if *stdinEOF {
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if sc.Text() == "grow" {
					grow <- struct{}{}
				}
			}
			stop.Store(true)
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		stop.Store(true)
	}()
	var end time.Time
	if *dur > 0 {
		end = time.Now().Add(*dur)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var extra []mmsb.PageID
	counter := uint64(1)
	commits := 0
	for !stop.Load() && (end.IsZero() || time.Now().Before(end)) {
		switch *mode {
		case "static":
			select {
			case <-grow:
				n, err := growPages(ctx, bus, *growBy, *size)
				if err != nil {
					fmt.Fprintln(os.Stdout, "FAIL grow:", err)
					return 1
				}
				fmt.Fprintf(os.Stdout, "GROWN pages=%d lsn=%d\n", n, bus.LastLSN())
			case <-time.After(5 * time.Millisecond):
			}
			continue
		case "tick":
			// Wall-clock ns in every word of the first page: a reader that
			// wakes on the commit measures the visibility latency.
			time.Sleep(*interval)
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, uniformPage(*size, uint64(time.Now().UnixNano())))}); err != nil {
				fmt.Fprintln(os.Stdout, "FAIL commit:", err)
				return 1
			}
			commits++
			continue
		}
		ds := make([]mmsb.Delta, 16)
		for i := range ds {
			ds[i] = mmsb.Write(ids[rng.IntN(len(ids))], 0, uniformPage(*size, counter))
			counter++
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			fmt.Fprintln(os.Stdout, "FAIL commit:", err)
			return 1
		}
		commits++
		if *churn && commits%20 == 0 {
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: *size})
			if err != nil {
				fmt.Fprintln(os.Stdout, "FAIL create:", err)
				return 1
			}
			extra = append(extra, id)
			if len(extra) > 8 {
				if err := bus.FreePage(ctx, extra[0]); err != nil {
					fmt.Fprintln(os.Stdout, "FAIL free:", err)
					return 1
				}
				extra = extra[1:]
			}
		}
	}
	lsn := bus.LastLSN()
	if err := bus.Close(); err != nil {
		fmt.Fprintln(os.Stdout, "FAIL close:", err)
		return 1
	}
	fmt.Fprintf(os.Stdout, "DONE commits=%d lsn=%d\n", commits, lsn)
	return 0
}
