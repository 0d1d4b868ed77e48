// Command writer is the Go half of the python-reader example: it opens a
// bus in shared mode and, every -every, commits one float64 signal per
// page (128 samples, 1 KiB: page i holds i + (i+1)·sin(t/10 + k/20)),
// until interrupted. reader.py reads the pages from another process with
// no Go in it (docs/bindings.md).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb"
)

func main() {
	// ContinueOnError: flag.CommandLine's ExitOnError exited with status 2
	// for an unknown flag or a bad value, where every other example (and
	// this one's own checks) exits 1. The flag package has printed the
	// error and the usage by then; -h prints the usage and exits 0.
	f, err := parseFlags(flag.NewFlagSet(os.Args[0], flag.ContinueOnError), os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		if errors.Is(err, errBadFlag) {
			fmt.Fprintln(os.Stderr, "writer:", err)
		}
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Stdout, f.dir, f.pages, f.every)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}

// flags are the writer's settings.
type flags struct {
	dir   string
	pages int
	every time.Duration
}

// parseFlags parses args with fs. An argument that is no flag is refused:
// `writer /tmp/x` (for -dir /tmp/x) ignored it and every flag after it,
// and wrote to the default directory, where a reader of /tmp/x found no
// bus.
func parseFlags(fs *flag.FlagSet, args []string) (flags, error) {
	var f flags
	fs.StringVar(&f.dir, "dir", "/tmp/mmsb-python-demo", "bus directory")
	fs.IntVar(&f.pages, "pages", 4, "signals (pages of 128 float64 samples)")
	fs.DurationVar(&f.every, "every", 100*time.Millisecond, "time between commits")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("%w: unexpected argument %q (every setting is a flag: -dir, -pages, -every)", errBadFlag, fs.Arg(0))
	}
	return f, nil
}

// errBadFlag: a flag out of its range.
var errBadFlag = errors.New("bad flag value")

// errOtherBus: -dir holds a bus whose pages are not this writer's signals.
var errOtherBus = errors.New("not this example's bus")

// pageBytes is the size of a signal's page: 128 float64 samples.
const pageBytes = 128 * 8

// signalMeta marks the pages this writer creates: "example" (a key of
// its own, as MetaEntry asks) says whose they are, and mmsb.type says
// they hold float64 samples (the validators' NaN/Inf check and the
// inspector read it). An existing bus is reused only if every page
// carries the "example" mark: a bus of 1 KiB pages of another program
// (cpp-writer's counters: pages 1..8 of 1 KiB) had its data overwritten
// with signals.
var signalMeta = []mmsb.MetaEntry{
	{Key: exampleMetaKey, Value: []byte(exampleMetaValue)},
	{Key: mmsb.TypeMetaKey, Value: []byte("f64")},
}

const (
	exampleMetaKey   = "example"
	exampleMetaValue = "python-reader signal"
)

// isSignal reports whether p carries the mark of a page this writer made.
func isSignal(p mmsb.PageInfo) bool {
	for _, m := range p.Meta {
		if m.Key == exampleMetaKey {
			return string(m.Value) == exampleMetaValue
		}
	}
	return false
}

// maxPages bounds -pages: the demo's signals are 1 KiB pages, and a
// thousand of them is more than a terminal can follow.
const maxPages = 1024

// run commits until ctx is done (main: Ctrl-C or SIGTERM), then closes the
// bus; it reports on out.
func run(ctx context.Context, out io.Writer, dir string, n int, every time.Duration) error {
	// Checked before the bus is opened: -pages -1 used to panic and -pages
	// 0 left an empty bus behind; -every 0 committed in a busy loop.
	if n < 1 || n > maxPages {
		return fmt.Errorf("%w: -pages %d: want 1 to %d", errBadFlag, n, maxPages)
	}
	if every <= 0 {
		return fmt.Errorf("%w: -every %v: want a positive duration", errBadFlag, every)
	}
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true})
	if err != nil {
		return err
	}
	defer func() { _ = bus.Close() }() // the clean path closes below and reports its error
	infos, err := bus.Pages()
	if err != nil {
		return err
	}
	var ids []mmsb.PageID
	for _, p := range infos {
		// A bus of other pages is refused: its pages of more than 1 KiB
		// (python-writer's heat grid) had their first 1 KiB overwritten
		// with signals, and smaller ones failed at the first commit.
		if p.Size != pageBytes {
			return fmt.Errorf("%w: bus %s page %d is %d bytes, want %d (128 float64 samples): not this example's signals", errOtherBus, dir, p.ID, p.Size, pageBytes)
		}
		if !isSignal(p) {
			return fmt.Errorf("%w: bus %s page %d has no metadata %s=%q (pages this writer creates have it): not this example's signals; give a new -dir", errOtherBus, dir, p.ID, exampleMetaKey, exampleMetaValue)
		}
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		specs := make([]mmsb.PageSpec, n)
		for i := range specs {
			specs[i] = mmsb.PageSpec{Size: pageBytes, Meta: signalMeta}
		}
		if ids, err = bus.CreatePages(ctx, specs); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "writer: bus %s, pages %v, shared region %s\n", dir, ids, bus.SharedPath())
	for tick := 0; ctx.Err() == nil; tick++ {
		ds := make([]mmsb.Delta, len(ids))
		for i, id := range ids {
			buf := make([]byte, pageBytes) // the delta keeps it until the commit
			for k := range 128 {
				v := float64(i) + float64(i+1)*math.Sin(float64(tick)/10+float64(k)/20)
				binary.LittleEndian.PutUint64(buf[8*k:], math.Float64bits(v))
			}
			ds[i] = mmsb.Write(id, 0, buf)
		}
		if _, err := bus.Commit(ctx, ds); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	if err := bus.Close(); err != nil {
		return err
	}
	fmt.Fprintln(out, "writer: closed")
	return nil
}
