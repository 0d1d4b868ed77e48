package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// boltTarget keeps each page as one value of one bucket and applies a
// batch as one read-modify-write transaction (bbolt has no merge
// operator). nosync sets DB.NoSync (no fsync at commit); sync is bbolt's
// default.
type boltTarget struct {
	sync     bool
	db       *bolt.DB
	pageSize int
	arena    []byte // the new page values of one transaction: bbolt keeps them until commit
}

var boltBucket = []byte("pages")

func (t *boltTarget) Setup(_ context.Context, dir string, w Workload) error {
	db, err := bolt.Open(filepath.Join(dir, "bench.db"), 0o600, nil)
	if err != nil {
		return err
	}
	t.db, t.pageSize = db, w.PageSize
	zero := make([]byte, w.PageSize)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(boltBucket)
		if err != nil {
			return err
		}
		b.FillPercent = 1 // keys are inserted in order
		for i := 0; i < w.Pages; i++ {
			if err := b.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), zero); err != nil {
				return err
			}
		}
		return nil
	})
	db.NoSync = !t.sync
	return err
}

func (t *boltTarget) Commit(_ context.Context, batch []Write) error {
	return t.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		need := len(batch) * t.pageSize
		if cap(t.arena) < need {
			t.arena = make([]byte, need)
		}
		arena := t.arena[:need]
		var key [4]byte
		for i := range batch {
			wr := &batch[i]
			binary.BigEndian.PutUint32(key[:], wr.Page)
			old := b.Get(key[:])
			if len(old) != t.pageSize {
				return fmt.Errorf("bbolt: page %d has %d bytes", wr.Page, len(old))
			}
			// Get's bytes belong to the transaction and must not be
			// written: copy into this write's slot of the arena.
			nv := arena[i*t.pageSize : (i+1)*t.pageSize]
			copy(nv, old)
			copy(nv[wr.Off:], wr.Data[:])
			if err := b.Put(key[:], nv); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *boltTarget) ReadPage(_ context.Context, i uint32) ([]byte, error) {
	var out []byte
	err := t.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(binary.BigEndian.AppendUint32(nil, i))
		if v == nil {
			return fmt.Errorf("bbolt: page %d missing", i)
		}
		out = slices.Clone(v)
		return nil
	})
	return out, err
}

func (t *boltTarget) Close() error {
	if t.db == nil {
		return nil
	}
	return t.db.Close()
}
