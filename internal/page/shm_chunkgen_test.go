package page

import (
	"bytes"
	"math"
	"testing"
)

// TestShmChunkGenerationWrapSkipsZero: a chunk index's generation is a
// uint32 bumped at every new file for that index (a page with a chunk of
// its own freed and created again). Generation 0 marks an unused
// chunk-table entry, so the generation after 2^32-1 must not be 0: it
// was, and the chunk was published as unused. Every reader then took
// the page on it for one whose chunk is being released and retried
// until its WriterTimeout, then reported the region corrupt, for as long
// as that chunk lived. 2^32-1 replacements are simulated by setting the
// generation counter.
func TestShmChunkGenerationWrapSkipsZero(t *testing.T) {
	s, dir := sharedStore(t)
	const size = 3 << 20 // a chunk of its own
	idx := s.cell(createFilled(t, s, 1, size, 0xaa, 1)).ref >> cellBits
	if err := s.Free(1); err != nil {
		t.Fatal(err)
	}
	s.shm.chunkGen[idx] = math.MaxUint32
	if got := s.cell(createFilled(t, s, 2, size, 0xbb, 2)).ref >> cellBits; got != idx {
		t.Skipf("the page went to chunk %d, not the freed chunk %d", got, idx)
	}
	if gen := s.shm.chunkGen[idx]; gen == 0 {
		t.Errorf("chunk %d's generation after %d is 0, the unused entry's", idx, uint32(math.MaxUint32))
	}
	r := publishAndOpen(t, s, dir, 2)
	b, found, err := readCopy(r, 2, 100)
	if err != nil || !found || !bytes.Equal(b, bytes.Repeat([]byte{0xbb}, size)) {
		t.Fatalf("page on the chunk of the wrapped generation: found %v, %d bytes, %v", found, len(b), err)
	}
}
