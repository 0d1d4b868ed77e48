package main

import (
	"context"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

// stallRecorder keeps a runtime/trace flight recorder running during a
// bench and writes its window to a file at the first commit slower than a
// threshold: the trace then shows what the slow commit waited for (a lock
// held by the checkpoint, page faults, GC assists, a filesystem call), which
// a latency histogram alone cannot say. A nil *stallRecorder does nothing.
type stallRecorder struct {
	path      string
	threshold time.Duration
	fr        *trace.FlightRecorder

	once    sync.Once
	done    sync.WaitGroup
	written bool
	err     error
}

// stallTraceDelay is how long after a stall the window is written: the
// flight recorder hands out whole trace generations (about a second each),
// so writing at once would miss the generation that holds the stall.
const stallTraceDelay = 2 * time.Second

// startStallRecorder starts the flight recorder; it returns nil when path is
// "".
func startStallRecorder(path string, threshold time.Duration) (*stallRecorder, error) {
	if path == "" {
		return nil, nil
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 256 << 20})
	if err := fr.Start(); err != nil {
		return nil, fmt.Errorf("--stall-trace: start flight recorder: %w", err)
	}
	return &stallRecorder{path: path, threshold: threshold, fr: fr}, nil
}

// observe notes one commit's latency and writes the trace window the first
// time it exceeds the threshold.
func (s *stallRecorder) observe(ns int64) {
	if s == nil || time.Duration(ns) <= s.threshold {
		return
	}
	// Mark every slow commit in the trace (the event's time is the
	// commit's end), so that the window's stalls can be found in it.
	trace.Log(context.Background(), "stall", fmt.Sprintf("commit took %d ns", ns))
	s.once.Do(func() {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			time.Sleep(stallTraceDelay)
			s.write()
		}()
	})
}

// write writes the flight recorder's window to the file: to a temporary
// file beside it, which renameOutput moves there after checking the path
// again, as --cpuprofile's. It was written with os.Create, which
// truncated whatever the path held by then, checked only before the run
// (bench --dir D --stall-trace D/wal/<segment> lost the segment its own
// bus made there) until 2026-12-07.
func (s *stallRecorder) write() {
	f, err := createOutputTemp(s.path)
	if err != nil {
		s.err = fmt.Errorf("--stall-trace %s: %w", s.path, err)
		return
	}
	_, err = s.fr.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		s.err = fmt.Errorf("--stall-trace %s: %w", s.path, err)
		return
	}
	s.err = renameOutput("--stall-trace", f.Name(), s.path, traceMagic, traceWhat)
	s.written = s.err == nil
}

// stop ends recording and reports whether a trace was written (and any
// error writing it).
func (s *stallRecorder) stop() (bool, error) {
	if s == nil {
		return false, nil
	}
	s.done.Wait()
	s.fr.Stop()
	return s.written, s.err
}
