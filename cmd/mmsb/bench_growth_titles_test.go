package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestGrowthChartTitlesSayOnePage: a batch sweep at one page
// (--growth-batch-pages 1) titles its charts "(1 page)", and a point of
// one page that fails says "1 page" (both said "1 pages"), and which
// pages it was creating counted from 1, of how many (it said "create
// pages 0..0"). Control: the sweep at two pages says "(2 pages)".
func TestGrowthChartTitlesSayOnePage(t *testing.T) {
	for _, tc := range []struct {
		pages int
		want  string
	}{{1, "(1 page)"}, {2, "(2 pages)"}} {
		r := &growthResult{ByPages: []growthPoint{{Pages: 1, Batch: 1}}, ByBatch: []growthPoint{{Pages: tc.pages, Batch: 1}}}
		titles := growthChartTitles(r)
		for _, i := range []int{2, 3} {
			if !strings.HasSuffix(titles[i], tc.want) {
				t.Errorf("%s: title %q, want it to end %q", growthChartFiles[i], titles[i], tc.want)
			}
		}
	}
	o := &benchOptions{pages: 1, pageSize: 128, deltaSize: 16, batch: 1, count: 10, seed: 3,
		workers: 1, concurrency: 1, pipeline: 1, stallThreshold: time.Hour, workload: "growth"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &app{stdout: io.Discard, stderr: io.Discard}
	_, err := a.growthPoint(ctx, o, 1, 1)
	const want = "1 page, batch 1: create pages 1 to 1 of 1: context canceled"
	if err == nil || err.Error() != want {
		t.Fatalf("a cancelled point of one page: %v, want %q", err, want)
	}
}
