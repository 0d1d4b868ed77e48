package mmsb

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestQueryLogReusesReaders: a log query reuses the reader of a query
// before it, its read buffer and its payload buffer. Each query made its
// own, 256 KiB and a payload buffer as large as the largest record in
// its range: a query for one small page's writes, whose range holds a
// record of 768 KiB of another page, allocated over 1 MiB each time
// (the inspector asks up to 16 such queries for one page view). The
// bound is 64 KiB a query, over 16 queries; each must still answer the
// small page's write, and a query after them the big write whole.
func TestQueryLogReusesReaders(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 2, 1<<20)
	big, small := ids[0], ids[1]
	bigData := strings.Repeat("b", 768<<10)
	commitT(t, e, w(big, 0, bigData))
	commitT(t, e, w(small, 3, "small"))
	query := func() int {
		found := 0
		err := e.QueryLog(ctx, LogQuery{Page: small}, func(lo *LoggedOp) bool {
			if d := lo.Op.Delta; len(d.Runs) == 1 && string(d.Runs[0].Data) == "small" {
				found++
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	query() // a reader for the next queries, if none is kept yet
	const queries = 16
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	found := 0
	for range queries {
		found += query()
	}
	runtime.ReadMemStats(&after)
	if found != queries {
		t.Fatalf("%d queries found the small page's write %d times, want once each", queries, found)
	}
	perQuery := (after.TotalAlloc - before.TotalAlloc) / queries
	t.Logf("a query allocated %d bytes", perQuery)
	const bound = 64 << 10
	if perQuery > bound {
		t.Fatalf("a query for one small page's writes over a record of %d bytes allocated %d bytes, want at most %d", len(bigData), perQuery, bound)
	}
	var got []byte
	err := e.QueryLog(ctx, LogQuery{Page: big, Kinds: []OpKind{OpDelta}}, func(lo *LoggedOp) bool {
		got = bytes.Clone(lo.Op.Delta.Runs[0].Data)
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != bigData {
		t.Fatalf("the big write read back %d bytes (%.8q…), want its %d bytes", len(got), got, len(bigData))
	}
}

// TestQueryLogReadersNotShared: queries running at once, each taking a
// kept reader or a new one, each answer their own records whole (under
// -race: no reader is used by two queries).
func TestQueryLogReadersNotShared(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 4, 64<<10)
	for i, id := range ids {
		commitT(t, e, w(id, 0, strings.Repeat(string(rune('a'+i)), 16<<10*(i+1))))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			want := strings.Repeat(string(rune('a'+i)), 16<<10*(i+1))
			for range 8 {
				got := ""
				err := e.QueryLog(ctx, LogQuery{Page: id, Kinds: []OpKind{OpDelta}}, func(lo *LoggedOp) bool {
					got = string(lo.Op.Delta.Runs[0].Data)
					return false
				})
				if err == nil && got != want {
					err = fmt.Errorf("page %d read back %d bytes (%.8q…), want %d", id, len(got), got, len(want))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
