//go:build cgo

package main

import (
	"context"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestCommitAddsNoAllocation: mmsb_commit and mmsb_commit_array, called
// as a C program calls them (their Go functions, with the C types cgo
// names _Ctype_*: a test file cannot import "C"), allocate no more per
// commit than Bus.Commit of the same batch: the checks every commit runs
// (counts, flags, spans: spanFits per write) format a message only when
// they fail, and the deltas are pooled.
func TestCommitAddsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops what it is given at random: the pooled deltas are allocated again")
	}
	b, err := mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := _Ctype_mmsb_bus(handles.add(b))
	defer mmsb_close(h)
	ctx := context.Background()
	if _, err := b.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 32)
	writes := []_Ctype_mmsb_write{
		{page: 1, offset: 0, len: 16, data: (*_Ctype_uint8_t)(unsafe.Pointer(&data[0]))},
		{page: 2, offset: 8, len: 16, data: (*_Ctype_uint8_t)(unsafe.Pointer(&data[16]))},
	}
	pages := []_Ctype_uint64_t{1, 2}
	offsets := []_Ctype_uint32_t{0, 8}
	expect := []_Ctype_uint64_t{^_Ctype_uint64_t(0), ^_Ctype_uint64_t(0)}
	var info _Ctype_mmsb_commit_info
	runs := []delta.Run{{Offset: 0, Data: data[:16]}, {Offset: 8, Data: data[16:]}}
	ds := []delta.Delta{{Page: 1, Runs: runs[:1]}, {Page: 2, Runs: runs[1:]}}

	goCommit := testing.AllocsPerRun(200, func() {
		if _, err := b.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	})
	cCommit := testing.AllocsPerRun(200, func() {
		if st := mmsb_commit(h, &writes[0], 2, &expect[0], 0, &info); st != 0 {
			t.Fatalf("mmsb_commit: status %d", st)
		}
	})
	cArray := testing.AllocsPerRun(200, func() {
		if st := mmsb_commit_array(h, &pages[0], &offsets[0], (*_Ctype_uint8_t)(unsafe.Pointer(&data[0])), 2, 16, &expect[0], 0, &info); st != 0 {
			t.Fatalf("mmsb_commit_array: status %d", st)
		}
	})
	t.Logf("allocations per commit: Bus.Commit %v, mmsb_commit %v, mmsb_commit_array %v", goCommit, cCommit, cArray)
	if cCommit > goCommit {
		t.Errorf("mmsb_commit allocates %v times per commit, Bus.Commit of the same batch %v", cCommit, goCommit)
	}
	if cArray > goCommit {
		t.Errorf("mmsb_commit_array allocates %v times per commit, Bus.Commit of the same batch %v", cArray, goCommit)
	}
}
