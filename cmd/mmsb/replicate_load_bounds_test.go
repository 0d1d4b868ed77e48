package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestReplicateLoadFlagBounds: every count flag of replicate --load and
// replicate bench has an upper bound, and a value past it is a usage
// error (exit 2) naming the flag, its value and the bound, found before
// anything is allocated or started. Before, the load sized a page list
// from --pages and each committer a batch from --batch before any limit
// applied: --pages or --batch near MaxInt64 ended the process (makeslice:
// cap out of range, or out of memory), and a --batch no record carries
// was refused only at the first commit, after every committer had
// allocated it. The memory limit is fixed here, so the refusals do not
// depend on the machine; nothing large is allocated.
func TestReplicateLoadFlagBounds(t *testing.T) {
	defer func(p, l func() int64) { pageMemoryLimit, loadMemoryLimit = p, l }(pageMemoryLimit, loadMemoryLimit)
	const limit = 1 << 30
	pageMemoryLimit = func() int64 { return limit }
	loadMemoryLimit = func() int64 { return limit }
	big := strconv.FormatInt(1<<62, 10)
	tests := []struct {
		args  []string
		names []string // what stderr must name: flag, value, bound
	}{
		{[]string{"--batch", strconv.Itoa(maxLoadBatch + 1)}, []string{"--batch " + strconv.Itoa(maxLoadBatch+1), strconv.Itoa(maxLoadBatch)}},
		{[]string{"--batch", big}, []string{"--batch " + big, strconv.Itoa(maxLoadBatch)}},
		{[]string{"--committers", strconv.Itoa(maxLoadCommitters + 1)}, []string{"--committers " + strconv.Itoa(maxLoadCommitters+1), strconv.Itoa(maxLoadCommitters)}},
		{[]string{"--committers", big}, []string{"--committers " + big, strconv.Itoa(maxLoadCommitters)}},
		{[]string{"--pages", big}, []string{"--pages " + big}},
		// 2^23 pages of 64 bytes and 64 of bookkeeping: 1 GiB, the limit; one more passes it.
		{[]string{"--pages", strconv.Itoa(limit/128 + 1)}, []string{"--pages " + strconv.Itoa(limit/128+1), "1.0 GiB"}},
		// Each flag within its bound, their product of held deltas not.
		{[]string{"--committers", "1024", "--batch", "10000"}, []string{"--committers 1024", "--batch 10000", "1.0 GiB"}},
	}
	for _, cmd := range [][]string{{"replicate", "--load", "--status-every", "0"}, {"replicate", "bench"}} {
		for _, tc := range tests {
			t.Run(cmd[1]+" "+strings.Join(tc.args, " "), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "node")
				args := append(append([]string{}, cmd...), tc.args...)
				if cmd[1] == "--load" {
					args = append(args, "--dir", dir)
				}
				// A value taken runs a bounded command that then fails
				// the test (exit 0 or 1, not 2).
				args = append(args, "--duration", "1s")
				r := runCLI(t, args...).mustCode(t, exitUsage)
				for _, want := range tc.names {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("stderr does not name %q:\n%s", want, r.stderr)
					}
				}
				if r.stdout != "" {
					t.Errorf("a refused command printed on stdout: %q", r.stdout)
				}
				for _, p := range []string{dir, dir + ".nats"} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("a refused command created %s (stat: %v)", p, err)
					}
				}
			})
		}
	}
}

// TestReplicateLoadBoundsTaken: the bounds themselves are taken by the
// flag check (a bound that refused its own value would be no bound), and
// --batch's bound is what a replicated record carries: that many of the
// load's smallest deltas fit in replicate.DefaultMaxRecordBytes with the
// largest header, one more does not.
func TestReplicateLoadBoundsTaken(t *testing.T) {
	defer func(p, l func() int64) { pageMemoryLimit, loadMemoryLimit = p, l }(pageMemoryLimit, loadMemoryLimit)
	pageMemoryLimit = func() int64 { return 0 } // unknown: no memory bound
	loadMemoryLimit = func() int64 { return 0 }
	for _, l := range []loadFlags{
		{batch: maxLoadBatch, committers: 1, pages: 1},
		{batch: 1, committers: maxLoadCommitters, pages: 1},
		{batch: 1, committers: 1, pages: math.MaxInt32},
	} {
		if err := l.check(); err != nil {
			t.Errorf("check(%+v) = %v, want nil", l, err)
		}
	}
	d := mmsb.Write(1, 0, make([]byte, loadDataBytes))
	header := record.AppendHeader(nil, -1<<63)
	size := func(n int) int { return len(header) + n*len(record.AppendDelta(nil, &d)) }
	if got := size(maxLoadBatch); got > replicate.DefaultMaxRecordBytes {
		t.Errorf("a batch of %d deltas is %d bytes, more than the %d a record carries", maxLoadBatch, got, replicate.DefaultMaxRecordBytes)
	}
	if got := size(maxLoadBatch + 1); got <= replicate.DefaultMaxRecordBytes {
		t.Errorf("a batch of %d deltas (%d bytes) fits in a record: the bound %d is too low", maxLoadBatch+1, got, maxLoadBatch)
	}
}
