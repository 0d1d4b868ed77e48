package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// fuzzRegion is a published region whose files FuzzShmRegion corrupts one
// at a time, restoring each afterwards.
type fuzzRegion struct {
	dir   string
	files []string          // region files, in the order an input selects them
	orig  map[string][]byte // their bytes as published (the chunk table up to its last used entry)
	size  map[string]int64  // their sizes as published
	pages map[uint64][]byte // live page ID → bytes
}

// newFuzzRegion publishes a small region: pages of several sizes (so
// several chunks and cell sizes), a freed page, and an ID beyond the dense
// index (the reader's map part).
func newFuzzRegion(tb testing.TB) *fuzzRegion {
	s, dir := sharedStore(tb)
	fr := &fuzzRegion{dir: dir, orig: map[string][]byte{}, size: map[string]int64{}, pages: map[uint64][]byte{}}
	lsn := uint64(0)
	for _, pg := range []struct {
		id   base.PageID
		size int
	}{{1, 100}, {2, 4096}, {3, 1}, {4, 3000}, {5, 64}, {1<<40 + 3, 24}} {
		lsn++
		sl, err := s.CreateAt(pg.id, pg.size, base.LocationCPU, lsn)
		if err != nil {
			tb.Fatal(err)
		}
		b := s.Bytes(sl)
		for i := range b {
			b[i] = byte(uint64(pg.id)*31 + uint64(i))
		}
		s.EndWrite(sl, lsn)
		fr.pages[uint64(pg.id)] = slices.Clone(b)
	}
	if err := s.Free(5); err != nil {
		tb.Fatal(err)
	}
	delete(fr.pages, 5)
	if err := s.Publish(dir, lsn); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		fr.files = append(fr.files, e.Name())
	}
	for _, name := range fr.files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		fr.size[name] = int64(len(b))
		fr.orig[name] = b[:len(bytes.TrimRight(b, "\x00"))]
	}
	return fr
}

// restore puts file name back as published.
func (fr *fuzzRegion) restore(tb testing.TB, name string) {
	path := filepath.Join(fr.dir, name)
	if err := os.Truncate(path, 0); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, fr.size[name]); err != nil {
		tb.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(fr.orig[name], 0); err != nil {
		tb.Fatal(err)
	}
}

// FuzzShmRegion: a reader opening a region with one file overwritten in
// part or truncated (header, chunk table, any slot array or page chunk)
// either refuses it with ErrBadShared or opens it, and then every read
// returns a page, "no such page", ErrBadShared or the retry signal —
// never a panic, a fault or bytes outside a mapping. An input that changes
// nothing must read every page back exactly (the check that the harness
// reads at all).
func FuzzShmRegion(f *testing.F) {
	fr := newFuzzRegion(f)
	for i := range fr.files {
		f.Add(uint8(i), uint32(0), []byte{0xff}, int32(-1), uint64(1))
		f.Add(uint8(i), uint32(8), []byte{1, 0, 0, 0, 0, 0, 0, 0}, int32(-1), uint64(2))
		f.Add(uint8(i), uint32(0), []byte(nil), int32(7), uint64(4))
	}
	f.Add(uint8(0), uint32(0), []byte(nil), int32(-1), uint64(1<<40+3)) // no change
	// A header claiming the most slots its format allows (high-water mark
	// and capacity, about 2^31), which the slot files do not hold: refused
	// at open, before any index is sized by it (TestShmReaderRefusesSparseSlots
	// has the files made that long, sparse).
	huge := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, maxSlots), maxSlots)
	f.Add(uint8(slices.Index(fr.files, ShmHeaderFile)), uint32(hHW), huge, int32(-1), uint64(1))
	f.Fuzz(func(t *testing.T, file uint8, off uint32, patch []byte, trunc int32, extra uint64) {
		name := fr.files[int(file)%len(fr.files)]
		path := filepath.Join(fr.dir, name)
		size := fr.size[name]
		changed := false
		switch {
		case trunc >= 0:
			n := int64(trunc) % (size + 1)
			changed = n != size
			if err := os.Truncate(path, n); err != nil {
				t.Fatal(err)
			}
		case len(patch) > 0 && size > 0:
			at := int64(off) % size
			patch = patch[:min(int64(len(patch)), size-at)]
			was := make([]byte, len(patch))
			fh, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.ReadAt(was, at); err != nil {
				fh.Close()
				t.Fatal(err)
			}
			changed = !bytes.Equal(was, patch)
			_, err = fh.WriteAt(patch, at)
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		defer fr.restore(t, name)

		r, err := OpenShmReader(fr.dir)
		if err != nil {
			if !errors.Is(err, ErrBadShared) {
				t.Fatalf("%s corrupted: open: %v does not wrap ErrBadShared", name, err)
			}
			if !changed {
				t.Fatalf("unchanged region refused: %v", err)
			}
			return
		}
		defer r.Close()
		ids := []uint64{1, 2, 3, 4, 5, 1<<40 + 3, extra}
		if got, err := r.IDs(); err != nil {
			if !errors.Is(err, ErrBadShared) {
				t.Fatalf("IDs: %v does not wrap ErrBadShared", err)
			}
			if !changed {
				t.Fatalf("unchanged region: IDs: %v", err)
			}
		} else {
			if want := slices.Sorted(maps.Keys(fr.pages)); !changed && !slices.Equal(got, want) {
				t.Fatalf("unchanged region: IDs %v, want %v", got, want)
			}
			ids = append(ids, got...)
		}
		var buf []byte
		for _, id := range ids {
			_, found, _, err := r.Read(id, func(b []byte) error { buf = append(buf[:0], b...); return nil }, 3)
			switch {
			case err != nil && !errors.Is(err, ErrBadShared) && !IsRetry(err):
				t.Fatalf("%s corrupted: page %d: %v", name, id, err)
			case changed:
			case err != nil:
				t.Fatalf("unchanged region: page %d: %v", id, err)
			case found != (fr.pages[id] != nil):
				t.Fatalf("unchanged region: page %d found %v", id, found)
			case found && !bytes.Equal(buf, fr.pages[id]):
				t.Fatalf("unchanged region: page %d reads %d bytes, not as written", id, len(buf))
			}
			var res SlotRead
			done, _, err := r.TryRead(id, func(b []byte) error { _ = b[len(b)-1]; buf = append(buf[:0], b...); return nil }, &res)
			if err != nil {
				t.Fatalf("TryRead page %d: %v", id, err)
			}
			// The same control for the lock-free path: after Read mapped
			// everything, it reads a live page of the dense index (not
			// the map's 1<<40+3, which it leaves to Read) byte for byte.
			switch want := fr.pages[id]; {
			case changed:
			case done && (want == nil || !bytes.Equal(buf, want)):
				t.Fatalf("unchanged region: TryRead page %d reads %d bytes, not as written", id, len(buf))
			case !done && want != nil && id < 1<<40:
				t.Fatalf("unchanged region: TryRead declined live page %d", id)
			}
		}
	})
}
