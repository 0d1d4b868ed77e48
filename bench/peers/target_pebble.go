package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/cockroachdb/pebble"
)

// pebbleTarget keeps each page as one value and applies a write with a
// merge operator, so a batch of writes is blind (no reads), as in MMSB.
// nosync commits with pebble.NoSync (WAL written, not fsynced), sync with
// pebble.Sync.
type pebbleTarget struct {
	sync  bool
	db    *pebble.DB
	batch *pebble.Batch
	op    []byte
}

// Values are tagged: a full page (tagPage + bytes) or a list of writes
// (tagWrites + repeated [u16 offset][u8 length][bytes]), the merge operand
// and the partial merge of several operands.
const (
	tagPage   = 0
	tagWrites = 1
)

func pageKey(i uint32) []byte { return binary.BigEndian.AppendUint32([]byte("p"), i) }

// pageMerger returns the merge operator for pages of pageSize bytes.
func pageMerger(pageSize int) *pebble.Merger {
	return &pebble.Merger{
		Name: "mmsb.bench.page-write",
		Merge: func(_, value []byte) (pebble.ValueMerger, error) {
			m := &pageValueMerger{pageSize: pageSize}
			return m, m.MergeNewer(value)
		},
	}
}

// pageValueMerger buffers operands (copies: Pebble keeps ownership of
// the values it passes) and applies them, oldest first, in Finish.
type pageValueMerger struct {
	pageSize int
	ops      [][]byte // oldest first
}

func (m *pageValueMerger) MergeNewer(v []byte) error {
	if len(v) == 0 || v[0] > tagWrites {
		return fmt.Errorf("pebble merge: bad operand tag")
	}
	m.ops = append(m.ops, slices.Clone(v))
	return nil
}

func (m *pageValueMerger) MergeOlder(v []byte) error {
	if len(v) == 0 || v[0] > tagWrites {
		return fmt.Errorf("pebble merge: bad operand tag")
	}
	m.ops = slices.Insert(m.ops, 0, slices.Clone(v))
	return nil
}

func (m *pageValueMerger) Finish(includesBase bool) ([]byte, io.Closer, error) {
	start := -1 // the newest full page: older operands do not matter
	for i := len(m.ops) - 1; i >= 0; i-- {
		if m.ops[i][0] == tagPage {
			start = i
			break
		}
	}
	if start < 0 && !includesBase {
		// A partial merge during compaction: the operands concatenate.
		out := []byte{tagWrites}
		for _, op := range m.ops {
			out = append(out, op[1:]...)
		}
		return out, nil, nil
	}
	page := make([]byte, 1+m.pageSize) // no base at all: a zero page
	page[0] = tagPage
	if start >= 0 {
		copy(page[1:], m.ops[start][1:])
	}
	for _, op := range m.ops[start+1:] {
		if err := applyWrites(page[1:], op[1:]); err != nil {
			return nil, nil, err
		}
	}
	return page, nil, nil
}

// appendWrite appends one write to a write list.
func appendWrite(dst []byte, off uint32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(off))
	dst = append(dst, byte(len(data)))
	return append(dst, data...)
}

// applyWrites applies a write list to page.
func applyWrites(page, list []byte) error {
	for len(list) > 0 {
		if len(list) < 3 {
			return fmt.Errorf("pebble merge: truncated write")
		}
		off, n := int(binary.BigEndian.Uint16(list)), int(list[2])
		list = list[3:]
		if n > len(list) || off+n > len(page) {
			return fmt.Errorf("pebble merge: write of %d bytes at %d outside the page or operand", n, off)
		}
		copy(page[off:], list[:n])
		list = list[n:]
	}
	return nil
}

func (t *pebbleTarget) Setup(_ context.Context, dir string, w Workload) error {
	db, err := pebble.Open(dir, &pebble.Options{Merger: pageMerger(w.PageSize)})
	if err != nil {
		return err
	}
	t.db = db
	b := db.NewBatch()
	zero := make([]byte, 1+w.PageSize) // tagPage, zeros
	for i := 0; i < w.Pages; i++ {
		if err := b.Set(pageKey(uint32(i)), zero, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	t.batch = db.NewBatch()
	return nil
}

func (t *pebbleTarget) Commit(_ context.Context, batch []Write) error {
	b := t.batch
	b.Reset()
	var key [5]byte
	key[0] = 'p'
	for i := range batch {
		wr := &batch[i]
		binary.BigEndian.PutUint32(key[1:], wr.Page)
		t.op = appendWrite(append(t.op[:0], tagWrites), wr.Off, wr.Data[:])
		if err := b.Merge(key[:], t.op, nil); err != nil { // Merge copies key and value
			return err
		}
	}
	opt := pebble.NoSync
	if t.sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
}

func (t *pebbleTarget) ReadPage(_ context.Context, i uint32) ([]byte, error) {
	v, closer, err := t.db.Get(pageKey(i))
	if err != nil {
		return nil, err
	}
	defer func() { _ = closer.Close() }() // releases the value; nothing to report
	if len(v) == 0 || v[0] != tagPage {
		return nil, fmt.Errorf("pebble: page %d is not a full page after merging", i)
	}
	return slices.Clone(v[1:]), nil
}

func (t *pebbleTarget) Close() error {
	if t.db == nil {
		return nil
	}
	if t.batch != nil {
		_ = t.batch.Close()
	}
	return t.db.Close()
}
