package replicate

import (
	"maps"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// FuzzDecodeRecordHeaders decodes a record message's header block as it
// arrives from the network (nats.DecodeHeadersMsg, then parseHeaders):
// any bytes are refused or give a valid LSN range that round-trips
// (checkHeadersRoundTrip), never a panic.
func FuzzDecodeRecordHeaders(f *testing.F) {
	h := nats.Header{}
	recordHeaders(h, 3, &mmsb.ReplicatedRecord{FirstLSN: 10, LastLSN: 12, StateHash: 0xabc})
	var block []byte
	block = append(block, "NATS/1.0\r\n"...)
	// In key order: the seed is the same bytes on every run (a map's
	// order is not).
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			block = append(block, k+": "+v+"\r\n"...)
		}
	}
	block = append(block, "\r\n"...)
	f.Add(block)
	f.Add([]byte("NATS/1.0\r\nMmsb-Lsn-First: 1\r\nMmsb-Lsn-First: 2\r\nMmsb-Lsn-Last:\r\n\r\n"))
	f.Add([]byte("NATS/1.0 503\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := nats.DecodeHeadersMsg(data)
		if err != nil {
			return
		}
		if err := checkHeadersRoundTrip(h, recordHeaders); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseCkptObjectName: object names listed from the checkpoint bucket
// are refused or round-trip to the same name, never a panic.
func FuzzParseCkptObjectName(f *testing.F) {
	f.Add("checkpoint-00000000000000012345")
	f.Add("checkpoint-")
	f.Add("checkpoint-99999999999999999999")
	f.Fuzz(func(t *testing.T, name string) {
		lsn, ok := parseCkptObjectName(name)
		if ok && ckptObjectName(lsn) != name {
			t.Fatalf("%q accepted as LSN %d, which names %q", name, lsn, ckptObjectName(lsn))
		}
	})
}
