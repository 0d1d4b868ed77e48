package replicate

import (
	"errors"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// A record holds at most 2^32-1 operations (its count is 32 bits): a
// message whose LSN range is longer is not a record. It is refused as
// ErrBadMessage (which stops the node: reading it again cannot help), not
// passed on to ApplyReplicated, whose ErrReplicaOrder made Node.Run
// reopen the follower and read the same message again, for ever.
func TestParseHeadersRefusesRangeLongerThanARecord(t *testing.T) {
	for _, tc := range []struct {
		first, last uint64
		ok          bool
	}{
		{1, 1<<32 - 1, true}, // 2^32-1 operations: the most a record holds
		{1, 1 << 32, false},
		{5, 1<<64 - 1, false},
	} {
		h := nats.Header{}
		recordHeaders(h, 1, &mmsb.ReplicatedRecord{FirstLSN: 1, LastLSN: 1})
		h.Set(HeaderFirstLSN, strconv.FormatUint(tc.first, 10))
		h.Set(HeaderLastLSN, strconv.FormatUint(tc.last, 10))
		_, err := parseHeaders(h)
		if tc.ok && err != nil {
			t.Errorf("LSN range %d..%d: %v, want accepted", tc.first, tc.last, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadMessage) {
			t.Errorf("LSN range %d..%d: %v, want ErrBadMessage", tc.first, tc.last, err)
		}
	}
}
