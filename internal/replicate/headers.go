package replicate

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// Message headers of a record message (docs/replication.md).
const (
	HeaderFirstLSN  = "Mmsb-Lsn-First"  // LSN of the record's first operation, decimal
	HeaderLastLSN   = "Mmsb-Lsn-Last"   // LSN of its last operation, decimal
	HeaderTerm      = "Mmsb-Term"       // the publishing leader's term, decimal
	HeaderStateHash = "Mmsb-State-Hash" // rolling state hash after the record, 16 hex digits
)

// ErrBadMessage is returned for a stream message whose headers do not
// describe a record, whose payload does not decode, or that repeats LSNs
// the follower already applied. Node.Run stops on it.
var ErrBadMessage = errors.New("replicate: malformed record message")

// msgID is the Nats-Msg-Id of a record: "<term>-<first LSN>". A publish
// retried within the stream's duplicate window is stored once.
func msgID(term uint64, first mmsb.LSN) string {
	return strconv.FormatUint(term, 10) + "-" + strconv.FormatUint(uint64(first), 10)
}

// recordHeaders fills the headers of a record message.
func recordHeaders(h nats.Header, term uint64, rec *mmsb.ReplicatedRecord) {
	h[HeaderFirstLSN] = []string{strconv.FormatUint(uint64(rec.FirstLSN), 10)}
	h[HeaderLastLSN] = []string{strconv.FormatUint(uint64(rec.LastLSN), 10)}
	h[HeaderTerm] = []string{strconv.FormatUint(term, 10)}
	h[HeaderStateHash] = []string{fmt.Sprintf("%016x", rec.StateHash)}
	h[nats.MsgIdHdr] = []string{msgID(term, rec.FirstLSN)}
}

// recordMeta is what a record message's headers say.
type recordMeta struct {
	First, Last mmsb.LSN
	Term        uint64
	Hash        uint64
}

// parseHeaders decodes and checks a record message's headers.
func parseHeaders(h nats.Header) (recordMeta, error) {
	var m recordMeta
	num := func(key string, base int) (uint64, error) {
		v := h.Get(key)
		if v == "" {
			return 0, fmt.Errorf("%w: header %s missing", ErrBadMessage, key)
		}
		n, err := strconv.ParseUint(v, base, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: header %s=%q: %w", ErrBadMessage, key, v, err)
		}
		return n, nil
	}
	first, err := num(HeaderFirstLSN, 10)
	if err != nil {
		return m, err
	}
	last, err := num(HeaderLastLSN, 10)
	if err != nil {
		return m, err
	}
	if first == 0 || last < first {
		return m, fmt.Errorf("%w: LSN range %d..%d", ErrBadMessage, first, last)
	}
	if last-first >= math.MaxUint32 {
		// A record counts its operations in 32 bits.
		return m, fmt.Errorf("%w: LSN range %d..%d holds more operations than a record can (%d)", ErrBadMessage, first, last, uint64(math.MaxUint32))
	}
	if m.Term, err = num(HeaderTerm, 10); err != nil {
		return m, err
	}
	hv := h.Get(HeaderStateHash)
	if len(hv) != 16 {
		return m, fmt.Errorf("%w: header %s=%q (want 16 hex digits)", ErrBadMessage, HeaderStateHash, hv)
	}
	if m.Hash, err = num(HeaderStateHash, 16); err != nil {
		return m, err
	}
	m.First, m.Last = mmsb.LSN(first), mmsb.LSN(last)
	return m, nil
}
