package mmsb

import (
	"encoding/binary"
	"testing"

	"github.com/mmsb-go/mmsb/internal/record"
)

// TestLoadCheckpointFuzzSeedHasEveryKind: FuzzLoadCheckpoint's valid seed
// (sampleCheckpoint) holds every record kind a bus writes (state, page,
// edge, binding, pending, recompute) and loads, so that the fuzzer starts
// from each kind's decoder and check; a change to the sample that drops
// one (no Bind: no binding and no recompute record) fails here instead of
// silently narrowing the fuzzing.
func TestLoadCheckpointFuzzSeedHasEveryKind(t *testing.T) {
	data, lsn := sampleCheckpoint(t)
	counts := map[uint8]int{}
	for rest := data; len(rest) >= 3; {
		n := int(binary.LittleEndian.Uint16(rest[1:]))
		counts[rest[0]]++
		rest = rest[3+n:]
	}
	for _, k := range []uint8{record.CkptState, record.CkptPage, record.CkptEdge, record.CkptBinding, record.CkptPending, record.CkptRecompute} {
		if counts[k] == 0 {
			t.Errorf("the seed holds no record of kind %d: %v", k, counts)
		}
	}
	if _, _, err := loadFramed(t, data, lsn); err != nil {
		t.Fatalf("the seed does not load: %v", err)
	}
}
