package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestBareLoopWritesWhatTheBusHolds: the growth workload's ratio (bus
// deltas/s over bare-loop deltas/s, by which a bus slower than plain
// memory copies is judged) compares the same work only if the bare loop
// applies the bus's deltas to the same pages. After one run each, the
// bare loop's memory, page i at (i-1)·page size, must hold exactly the
// bytes of the bus's page i. A bare loop that skipped its copies, wrote
// other offsets or other pages, or generated other batches, would have
// measured something cheaper and passed TestBenchGrowth, which asks only
// for a positive ratio.
func TestBareLoopWritesWhatTheBusHolds(t *testing.T) {
	o := &benchOptions{pages: 64, pageSize: 128, deltaSize: 16, batch: 50, count: 3000, seed: 3,
		workers: 1, concurrency: 1, pipeline: 1, stallThreshold: time.Hour, workload: "growth"}
	a := &app{stdout: io.Discard, stderr: io.Discard}
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close() //nolint:errcheck // an in-memory bus
	var r benchResult
	ids, err := a.benchCreate(context.Background(), bus, o, &r)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.benchCommit(context.Background(), bus, o, ids, &r); err != nil {
		t.Fatal(err)
	}
	mem := make([]byte, o.pages*o.pageSize)
	if bare := bareLoop(o, mem); !(bare.DeltasPerSec > 0) {
		t.Fatalf("bare loop rate %v", bare.DeltasPerSec)
	}
	written := 0
	for i, id := range ids {
		if id != mmsb.PageID(i+1) {
			t.Fatalf("the bus gave page %d the ID %d; the bare loop puts page i+1 at i × page size", i, id)
		}
		got, _, err := bus.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := mem[i*o.pageSize : (i+1)*o.pageSize]
		if !bytes.Equal(got, want) {
			t.Fatalf("page %d: the bus holds %x, the bare loop wrote %x", id, got, want)
		}
		if !bytes.Equal(got, make([]byte, len(got))) {
			written++
		}
	}
	if written != o.pages { // 3000 deltas of 16 bytes over 64 pages: all written
		t.Fatalf("%d of %d pages written: the run did not exercise the comparison", written, o.pages)
	}
}

// TestGrowthChartsDeterministic: the growth charts are a function of the
// measured points alone: drawn twice from the same result, every PNG is
// the same bytes (docs/img's charts can be redrawn and diffed). Control:
// one figure changed (a bare-loop rate) changes the throughput chart of
// its sweep, so the comparison is not between two empty or constant files.
func TestGrowthChartsDeterministic(t *testing.T) {
	pt := func(pages, batch int, rate float64) growthPoint {
		return growthPoint{Pages: pages, Batch: batch, Deltas: 1000, DeltasPerSec: rate, BareDeltasPerSec: 4 * rate, Ratio: 0.25,
			LatencyP99NS: 2e5, LatencyMaxNS: 9e5, BareLatencyP99NS: 5e4, BareLatencyMaxNS: 8e4, RSSBytes: 1 << 26}
	}
	// The page sweep only: the batch sweep's two charts are drawn by the
	// same code, and each chart costs a second under -race.
	res := &growthResult{PageSize: 1024, DeltaSize: 16, Seed: 1,
		ByPages: []growthPoint{pt(65536, 1000, 3e6), pt(262144, 1000, 2.5e6)}}
	draw := func(r *growthResult) map[string][]byte {
		dir := t.TempDir()
		paths, err := writeGrowthCharts(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 2 {
			t.Fatalf("charts %v, want 2", paths)
		}
		out := map[string][]byte{}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(p)] = b
		}
		return out
	}
	first, second := draw(res), draw(res)
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Errorf("%s: two drawings of the same result differ (%d and %d bytes)", name, len(b), len(second[name]))
		}
	}
	res.ByPages[1].BareDeltasPerSec *= 2
	changed := draw(res)
	if bytes.Equal(first["growth-rate-vs-pages.png"], changed["growth-rate-vs-pages.png"]) {
		t.Error("control: a changed bare-loop rate left growth-rate-vs-pages.png unchanged")
	}
	if !bytes.Equal(first["growth-latency-vs-pages.png"], changed["growth-latency-vs-pages.png"]) {
		t.Error("control: a changed rate changed the latency chart, which does not draw it")
	}
}

// TestDocumentedGrowthJSONMatchesOutput: the `--workload growth --json`
// object docs/cli.md spells out (`{page_size, …, by_pages[{…}], …}`) and a
// tiny run's output name the same fields, both ways (a renamed or dropped
// field fails: TestDocumentedJSONCheckCatchesDrift is the comparison's
// negative control). Scripts and the charts in docs/img read these points.
func TestDocumentedGrowthJSONMatchesOutput(t *testing.T) {
	page := strings.Join(strings.Fields(readCLIPage(t)), " ")
	m := regexp.MustCompile("`(\\{page_size, delta_size, seed, by_pages[^`]*\\})`").FindStringSubmatch(page)
	if m == nil {
		t.Fatal("docs/cli.md: no `{page_size, delta_size, seed, by_pages…}` notation for the growth workload's --json")
	}
	doc, err := parseDocSchema(m[1])
	if err != nil {
		t.Fatalf("docs/cli.md, growth --json: %v", err)
	}
	r := runCLI(t, "bench", "--workload", "growth", "--growth-pages", "16", "--growth-batches", "4",
		"--growth-batch-pages", "16", "--page-size", "64", "--count", "200", "--checkpoint-bytes", "-1",
		"--plot", t.TempDir(), "--json", "--no-progress").mustCode(t, exitOK)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if drift := schemaDrift(doc, got); len(drift) > 0 {
		t.Errorf("docs/cli.md's growth --json notation and the output differ:\n  %s\noutput:\n%s", strings.Join(drift, "\n  "), r.stdout)
	}
}
