package mmsb_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

func f64(v float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
}

// Example shows pages, an atomic batch of deltas, a conflict, a derived page
// recomputed by a tick, and a replay check.
func Example() {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil) // in-memory; pass a directory for a durable bus
	if err != nil {
		panic(err)
	}
	defer bus.Close()

	f64Page := []mmsb.MetaEntry{{Key: "mmsb.type", Value: []byte("f64")}}
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: f64Page}, {Size: 8, Meta: f64Page}, {Size: 8, Meta: f64Page}})
	a, b, sum := ids[0], ids[1], ids[2]

	info, _ := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, f64(1.5)), mmsb.Write(b, 0, f64(2.25))})
	fmt.Println("batch LSNs:", info.FirstLSN, "to", info.LastLSN)

	stale := mmsb.Write(a, 0, f64(9))
	stale.CheckEpoch, stale.ExpectEpoch = true, 0 // a is at epoch 1 now
	_, err = bus.Commit(ctx, []mmsb.Delta{stale})
	fmt.Println("conflict:", errors.Is(err, mmsb.ErrConflict))

	_ = bus.Bind(ctx, sum, "f64.sum", nil, []mmsb.PageID{a, b})
	orch, _ := tick.New(bus, nil)
	defer orch.Close()
	d := mmsb.Write(a, 0, f64(10))
	_ = orch.Submit(ctx, &d)
	_, _ = orch.Tick(ctx)
	got, _, _ := bus.ReadPage(sum, nil)
	fmt.Println("sum:", math.Float64frombits(binary.LittleEndian.Uint64(got)))

	rep, _ := bus.VerifyReplay(ctx, false)
	fmt.Println("replay equals live state:", rep.Equal())
	// Output:
	// batch LSNs: 4 to 5
	// conflict: true
	// sum: 12.25
	// replay equals live state: true
}

// Open a bus, create a page, commit a batch and read the page back.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "mmsb-example")
	defer os.RemoveAll(dir)

	bus, err := mmsb.Open(dir, nil) // durable: group commit by default
	if err != nil {
		panic(err)
	}
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("hello")), mmsb.Write(id, 5, []byte(", bus"))})
	if err != nil {
		panic(err)
	}
	buf, epoch, _ := bus.ReadPage(id, nil)
	fmt.Printf("LSNs %d-%d, epoch %d: %q\n", info.FirstLSN, info.LastLSN, epoch, buf[:10])
	bus.Close()

	// Reopening recovers the state from the log.
	bus, _ = mmsb.Open(dir, nil)
	defer bus.Close()
	buf, epoch, _ = bus.ReadPage(id, nil)
	fmt.Printf("after reopen, epoch %d: %q\n", epoch, buf[:10])
	// Output:
	// LSNs 2-3, epoch 2: "hello, bus"
	// after reopen, epoch 2: "hello, bus"
}

// An in-memory bus keeps its log in RAM and, by default, its checkpoint
// in an unnamed scratch file that the kernel's page cache holds and can
// reclaim. MemoryCheckpoints keeps the checkpoint in RAM too (no file at
// all, at the price of a whole copy of the state); either way replay from
// the checkpoint equals the live state.
func ExampleOptions_memoryCheckpoints() {
	ctx := context.Background()
	for _, inRAM := range []bool{false, true} {
		bus, err := mmsb.Open("", &mmsb.Options{MemoryCheckpoints: inRAM})
		if err != nil {
			panic(err)
		}
		id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("state"))}); err != nil {
			panic(err)
		}
		info, err := bus.Checkpoint(ctx)
		if err != nil {
			panic(err)
		}
		rep, err := bus.VerifyReplay(ctx, true)
		if err != nil {
			panic(err)
		}
		fmt.Printf("checkpoints in RAM %v: checkpoint at LSN %d, replay from it equal: %v\n", inRAM, info.LSN, rep.Equal())
		bus.Close()
	}
	// Output:
	// checkpoints in RAM false: checkpoint at LSN 2, replay from it equal: true
	// checkpoints in RAM true: checkpoint at LSN 2, replay from it equal: true
}

// A checkpoint of a bus in a directory writes at most CheckpointWriteRate
// bytes a second (64 MiB/s by default), so that the log's fsyncs do not
// flush it at the disk's full speed; Stats.CheckpointPaced is the time it
// slept to hold the rate. Pacing changes only time, never the file.
func ExampleOptions_checkpointWriteRate() {
	ctx := context.Background()
	for _, rate := range []int64{-1, 1 << 20} { // unlimited, then 1 MiB/s
		dir, err := os.MkdirTemp("", "mmsb-example")
		if err != nil {
			panic(err)
		}
		bus, err := mmsb.Open(dir, &mmsb.Options{CheckpointWriteRate: rate, CheckpointBytes: -1})
		if err != nil {
			panic(err)
		}
		// 768 KiB of varied bytes: three of the writer's 256 KiB buffers.
		page := make([]byte, 1024)
		for i := range page {
			page[i] = byte(i * 7)
		}
		ds := make([]mmsb.Delta, 0, 768)
		for range 768 {
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: len(page)})
			if err != nil {
				panic(err)
			}
			ds = append(ds, mmsb.Write(id, 0, page))
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			panic(err)
		}
		if _, err := bus.Checkpoint(ctx); err != nil {
			panic(err)
		}
		fmt.Printf("rate %d: paced %v\n", rate, bus.Stats().CheckpointPaced > 0)
		bus.Close()
		os.RemoveAll(dir)
	}
	// Output:
	// rate -1: paced false
	// rate 1048576: paced true
}

// CommitAsync applies and logs a batch without waiting for its fsync, so
// that a writer can prepare the next batch meanwhile; WaitDurable waits.
func ExampleBus_CommitAsync() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})

	var last mmsb.LSN
	for i := range 3 {
		info, err := bus.CommitAsync(ctx, []mmsb.Delta{mmsb.Write(id, uint32(i), []byte{byte('a' + i)})})
		if err != nil {
			panic(err)
		}
		last = info.LastLSN
	}
	if err := bus.WaitDurable(ctx, last); err != nil {
		panic(err)
	}
	buf, epoch, _ := bus.ReadPage(id, nil)
	fmt.Printf("durable through LSN %d, epoch %d: %q\n", last, epoch, buf[:3])
	// Output:
	// durable through LSN 4, epoch 3: "abc"
}

// CheckpointRunning tells the commits that overlapped a checkpoint from
// the others, for example to report their latency apart (mmsb bench does).
func ExampleBus_CheckpointRunning() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})

	var during, outside int
	done := make(chan struct{})
	go func() { _, _ = bus.Checkpoint(ctx); close(done) }()
	for i := 0; i < 100; i++ {
		overlapped := bus.CheckpointRunning()
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(i)})}); err != nil {
			panic(err)
		}
		if overlapped || bus.CheckpointRunning() {
			during++
		} else {
			outside++
		}
	}
	<-done
	fmt.Println(during+outside, "commits; checkpoint running now:", bus.CheckpointRunning())
	// Output:
	// 100 commits; checkpoint running now: false
}

// A delta with CheckEpoch applies only if its page is still at the epoch
// the writer read; otherwise the whole batch fails with ErrConflict.
func ExampleBus_Commit_conflict() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})

	_, seen, _ := bus.ReadPage(id, nil) // a writer reads epoch 0
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("other"))})

	d := mmsb.Write(id, 0, []byte("mine"))
	d.CheckEpoch, d.ExpectEpoch = true, seen
	_, err := bus.Commit(ctx, []mmsb.Delta{d})
	fmt.Println("conflict:", errors.Is(err, mmsb.ErrConflict))

	_, seen, _ = bus.ReadPage(id, nil) // read again and retry
	d.ExpectEpoch = seen
	_, err = bus.Commit(ctx, []mmsb.Delta{d})
	fmt.Println("retry:", err)
	// Output:
	// conflict: true
	// retry: <nil>
}

// ReadPageRange copies a window of a page, not the whole page: a viewer
// showing 16 bytes of a 1 MiB page copies 16 bytes.
func ExampleBus_ReadPageRange() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1 << 20})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 1<<19, []byte("in the middle"))})

	b, epoch, _ := bus.ReadPageRange(id, 1<<19, 13, nil)
	fmt.Printf("%q (epoch %d)\n", b, epoch)
	tail, _, _ := bus.ReadPageRange(id, 1<<20-4, 16, nil)
	fmt.Println("bytes left at the end:", len(tail))
	// Output:
	// "in the middle" (epoch 1)
	// bytes left at the end: 4
}

// Every past state the log still holds can be rebuilt: ReadPageAt reads a
// page as of an LSN, Replay rebuilds a whole bus up to a target.
func ExampleBus_ReadPageAt() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4})
	first, _ := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("v1.."))})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("v2.."))})

	old, epoch, _ := bus.ReadPageAt(ctx, id, first.LastLSN)
	fmt.Printf("as of LSN %d: %q (epoch %d)\n", first.LastLSN, old, epoch)

	past, _ := bus.Replay(ctx, mmsb.ReplayTarget{ToLSN: first.LastLSN})
	defer past.Close()
	buf, _, _ := past.ReadPage(id, nil)
	fmt.Printf("replayed to LSN %d: %q\n", past.LastLSN(), buf)

	rep, _ := bus.VerifyReplay(ctx, false)
	fmt.Println("full replay equals live state:", rep.Equal())
	// Output:
	// as of LSN 2: "v1.." (epoch 1)
	// replayed to LSN 2: "v1.."
	// full replay equals live state: true
}

// StatsWithHash pairs the state hash with the LSN it is the state of, as
// two calls cannot while commits go on: a replay to that LSN hashes the same.
func ExampleBus_StatsWithHash() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("state 1."))})

	st, hash, _ := bus.StatsWithHash()
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("state 2."))})

	past, _ := bus.Replay(ctx, mmsb.ReplayTarget{ToLSN: st.LastLSN})
	defer past.Close()
	replayed, _ := past.StateHash()
	fmt.Printf("LSN %d, %d page, hash equals the replay's: %v\n", st.LastLSN, st.Pages, hash == replayed)
	// Output:
	// LSN 2, 1 page, hash equals the replay's: true
}

// Bind makes a page derived: a tick recomputes it when a parent changes,
// and logs the result like any other delta.
func ExampleBus_Bind() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	typed := []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: typed}, {Size: 8, Meta: typed}, {Size: 8, Meta: typed}})
	a, b, max := ids[0], ids[1], ids[2]
	// max is the cell-wise maximum of a and b.
	if err := bus.Bind(ctx, max, "f64.max", nil, []mmsb.PageID{a, b}); err != nil {
		panic(err)
	}

	orch, _ := tick.New(bus, nil)
	defer orch.Close()
	for _, d := range []mmsb.Delta{mmsb.Write(a, 0, f64(3)), mmsb.Write(b, 0, f64(7))} {
		_ = orch.Submit(ctx, &d)
	}
	r, _ := orch.Tick(ctx)
	got, _, _ := bus.ReadPage(max, nil)
	fmt.Printf("committed %d, recomputed %d: max = %v\n", r.Committed, r.Propagation.Recomputed,
		math.Float64frombits(binary.LittleEndian.Uint64(got)))
	// Output:
	// committed 2, recomputed 1: max = 7
}

// Provenance says which operation last wrote a byte range and, for a
// derived page, which parent writes it was computed from.
func ExampleBus_Provenance() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	typed := []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: typed}, {Size: 8, Meta: typed}})
	src, dst := ids[0], ids[1]
	_ = bus.Bind(ctx, dst, "f64.sum", nil, []mmsb.PageID{src})
	d := mmsb.Write(src, 0, f64(2.5))
	d.Source, d.Intent = "sensor-7", []byte(`{"why":"calibration"}`)
	_, _ = bus.Commit(ctx, []mmsb.Delta{d})
	_, _ = bus.Propagate(ctx)

	res, _ := bus.Provenance(ctx, dst, 0, 8, 0)
	for _, w := range res.Writes {
		fmt.Printf("depth %d: page %d LSN %d %v source %q intent %q\n", w.Depth, w.Page, w.LSN, w.Kind, w.Source, w.Intent)
	}
	// Output:
	// depth 0: page 2 LSN 5 derived source "propagation" intent ""
	// depth 1: page 1 LSN 4 delta source "sensor-7" intent "{\"why\":\"calibration\"}"
}

// QueryLog streams logged operations that match a query, in LSN order.
func ExampleBus_QueryLog() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 4}, {Size: 4}})
	for i, s := range []string{"alice", "bob", "alice"} {
		d := mmsb.Write(ids[i%2], 0, []byte{byte(i)})
		d.Source = s
		_, _ = bus.Commit(ctx, []mmsb.Delta{d})
	}
	_ = bus.QueryLog(ctx, mmsb.LogQuery{Source: "alice"}, func(op *mmsb.LoggedOp) bool {
		fmt.Printf("LSN %d: %v to page %d by %s\n", op.LSN, op.Op.Kind, op.Op.Delta.Page, op.Op.Delta.Source)
		return true
	})
	// Output:
	// LSN 3: delta to page 1 by alice
	// LSN 5: delta to page 1 by alice
}

// With two workers a large batch's bytes are copied into its pages by a
// helper after Commit returns; a read right after Commit still sees them,
// and the state equals that of a one-worker bus.
func ExampleOptions_workers() {
	ctx := context.Background()
	hashes := make([]uint64, 0, 2)
	for _, workers := range []int{1, 2} {
		bus, err := mmsb.Open("", &mmsb.Options{Workers: workers})
		if err != nil {
			fmt.Println(err)
			return
		}
		specs := make([]mmsb.PageSpec, 1000)
		for i := range specs {
			specs[i] = mmsb.PageSpec{Size: 8}
		}
		ids, err := bus.CreatePages(ctx, specs)
		if err != nil {
			fmt.Println(err)
			return
		}
		ds := make([]mmsb.Delta, len(ids))
		for i, id := range ids {
			ds[i] = mmsb.Delta{Page: id, Runs: []mmsb.Run{{Data: f64(float64(i))}}}
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			fmt.Println(err)
			return
		}
		b, epoch, err := bus.ReadPage(ids[999], nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		h, _ := bus.StateHash()
		hashes = append(hashes, h)
		fmt.Println(workers, "worker(s): last page", math.Float64frombits(binary.LittleEndian.Uint64(b)), "epoch", epoch)
		_ = bus.Close()
	}
	fmt.Println("same state:", hashes[0] == hashes[1])
	// Output:
	// 1 worker(s): last page 999 epoch 1
	// 2 worker(s): last page 999 epoch 1
	// same state: true
}

// Pages created in ID order, of one size and not freed are reached by the
// commit path without an index entry or a cell load; freeing one cuts the
// count to the pages below it.
func ExampleStoreStats() {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close()
	specs := make([]mmsb.PageSpec, 100)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 1024}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("direct pages:", bus.Stats().Store.DirectPages)
	if err := bus.FreePage(ctx, ids[40]); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after freeing page", ids[40], "of", len(ids), "- direct pages:", bus.Stats().Store.DirectPages)
	// Output:
	// direct pages: 100
	// after freeing page 41 of 100 - direct pages: 40
}
