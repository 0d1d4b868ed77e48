package replicate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

func TestHeadersRoundTrip(t *testing.T) {
	rec := mmsb.ReplicatedRecord{FirstLSN: 10, LastLSN: 1009, StateHash: 0xfedcba9876543210}
	h := nats.Header{}
	recordHeaders(h, 7, &rec)
	if got := h.Get(nats.MsgIdHdr); got != "7-10" {
		t.Fatalf("Nats-Msg-Id %q, want 7-10", got)
	}
	m, err := parseHeaders(h)
	if err != nil {
		t.Fatal(err)
	}
	if m != (recordMeta{First: 10, Last: 1009, Term: 7, Hash: rec.StateHash}) {
		t.Fatalf("parsed %+v", m)
	}
}

func TestParseHeadersRefusesBadMessages(t *testing.T) {
	good := func() nats.Header {
		h := nats.Header{}
		recordHeaders(h, 1, &mmsb.ReplicatedRecord{FirstLSN: 1, LastLSN: 2, StateHash: 3})
		return h
	}
	tests := []struct {
		name string
		edit func(nats.Header)
	}{
		{"no first LSN", func(h nats.Header) { h.Del(HeaderFirstLSN) }},
		{"no last LSN", func(h nats.Header) { h.Del(HeaderLastLSN) }},
		{"no term", func(h nats.Header) { h.Del(HeaderTerm) }},
		{"no hash", func(h nats.Header) { h.Del(HeaderStateHash) }},
		{"short hash", func(h nats.Header) { h.Set(HeaderStateHash, "abc") }},
		{"hash not hex", func(h nats.Header) { h.Set(HeaderStateHash, "zzzzzzzzzzzzzzzz") }},
		{"first LSN zero", func(h nats.Header) { h.Set(HeaderFirstLSN, "0") }},
		{"range reversed", func(h nats.Header) { h.Set(HeaderFirstLSN, "5") }},
		{"negative", func(h nats.Header) { h.Set(HeaderLastLSN, "-1") }},
	}
	for _, tc := range tests {
		h := good()
		tc.edit(h)
		if _, err := parseHeaders(h); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", tc.name, err)
		}
	}
}

// FuzzParseHeaders: any header values are refused with ErrBadMessage or
// give a valid range, never a panic, and what is accepted round-trips:
// the headers recordHeaders writes for it parse to the same values
// (checkHeadersRoundTrip; TestHeadersCheckCanFail is the negative control).
func FuzzParseHeaders(f *testing.F) {
	f.Add("1", "2", "3", "0000000000000003")
	f.Add("18446744073709551615", "18446744073709551615", "0", "ffffffffffffffff")
	f.Add("", "x", "-1", "")
	f.Add("0010", "12", "07", "ABCDEF0123456789")
	f.Fuzz(func(t *testing.T, first, last, term, hash string) {
		h := nats.Header{}
		h.Set(HeaderFirstLSN, first)
		h.Set(HeaderLastLSN, last)
		h.Set(HeaderTerm, term)
		h.Set(HeaderStateHash, hash)
		if err := checkHeadersRoundTrip(h, recordHeaders); err != nil {
			t.Fatal(err)
		}
	})
}

// checkHeadersRoundTrip is the law of the record headers on one header
// block: parseHeaders refuses it with ErrBadMessage, or accepts a range
// a record can hold, and enc (recordHeaders, or a broken one in the
// negative control) writes headers that parse back to the same meta.
func checkHeadersRoundTrip(h nats.Header, enc func(nats.Header, uint64, *mmsb.ReplicatedRecord)) error {
	m, err := parseHeaders(h)
	if err != nil {
		if !errors.Is(err, ErrBadMessage) {
			return fmt.Errorf("refusal does not wrap ErrBadMessage: %w", err)
		}
		return nil
	}
	if m.First == 0 || m.Last < m.First || m.Last-m.First >= math.MaxUint32 {
		return fmt.Errorf("accepted range %d..%d", m.First, m.Last)
	}
	h2 := nats.Header{}
	enc(h2, m.Term, &mmsb.ReplicatedRecord{FirstLSN: m.First, LastLSN: m.Last, StateHash: m.Hash})
	back, err := parseHeaders(h2)
	if err != nil {
		return fmt.Errorf("headers written for %+v do not parse: %w", m, err)
	}
	if back != m {
		return fmt.Errorf("headers written for %+v parse as %+v", m, back)
	}
	return nil
}

// TestHeadersCheckCanFail: the round-trip law accepts genuine headers and
// catches writers that lose or bend a field.
func TestHeadersCheckCanFail(t *testing.T) {
	good := nats.Header{}
	recordHeaders(good, 5, &mmsb.ReplicatedRecord{FirstLSN: 10, LastLSN: 12, StateHash: 0xabc})
	if _, err := parseHeaders(good); err != nil {
		t.Fatalf("genuine headers refused: %v", err)
	}
	if err := checkHeadersRoundTrip(good, recordHeaders); err != nil {
		t.Fatalf("genuine headers: %v", err)
	}
	for name, bend := range map[string]func(nats.Header){
		"term dropped":  func(h nats.Header) { h.Set(HeaderTerm, "0") },
		"hash in short": func(h nats.Header) { h.Set(HeaderStateHash, fmt.Sprintf("%x", 0xabc)) },
		"last = first":  func(h nats.Header) { h.Set(HeaderLastLSN, h.Get(HeaderFirstLSN)) },
	} {
		enc := func(h nats.Header, term uint64, rec *mmsb.ReplicatedRecord) {
			recordHeaders(h, term, rec)
			bend(h)
		}
		if err := checkHeadersRoundTrip(good, enc); err == nil {
			t.Errorf("a header writer with %s passed", name)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Bus: "b"}, true},
		{"empty bus", Config{}, false},
		{"bad bus name", Config{Bus: "a.b"}, false},
		{"replicas", Config{Bus: "b", Replicas: 7}, false},
		{"short lease", Config{Bus: "b", LeaseTTL: time.Millisecond}, false},
	}
	for _, tc := range tests {
		_, err := tc.cfg.withDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	c, _ := Config{Bus: "x"}.withDefaults()
	if c.StreamName() != "MMSB_LOG_x" || c.Subject() != "mmsb.x.log" || c.LeaseBucket() != "MMSB_LEASE_x" || c.CheckpointBucket() != "MMSB_CKPT_x" {
		t.Fatalf("names: %s %s %s %s", c.StreamName(), c.Subject(), c.LeaseBucket(), c.CheckpointBucket())
	}
}

func TestMetricsStats(t *testing.T) {
	var m Metrics
	m.AppliedLSN.Store(42)
	m.Leader.Store(1)
	m.ObservePublish(300 * time.Microsecond)
	m.ObservePublish(20 * time.Second) // past the last bound: only in Count
	s := m.Stats()
	if s.AppliedLSN != 42 || !s.Leader {
		t.Fatalf("stats: %+v", s)
	}
	h := s.PublishLatency
	if h.Count != 2 || h.Counts[len(h.Counts)-1] != 1 || h.Bounds[0] != 20e-6 {
		t.Fatalf("publish histogram: count %d, last bucket %d, first bound %g", h.Count, h.Counts[len(h.Counts)-1], h.Bounds[0])
	}
	if h.Sum < 20.0003 || h.Sum > 20.0004 {
		t.Fatalf("publish histogram sum %g s, want 20.0003", h.Sum)
	}
}

func TestCheckpointObjectNames(t *testing.T) {
	for _, lsn := range []mmsb.LSN{0, 1, 12345, math.MaxUint64} {
		got, ok := parseCkptObjectName(ckptObjectName(lsn))
		if !ok || got != lsn {
			t.Fatalf("round trip of %d: %d %v", lsn, got, ok)
		}
	}
	for _, bad := range []string{"checkpoint-1", "x-00000000000000000001", "checkpoint-0000000000000000000a"} {
		if _, ok := parseCkptObjectName(bad); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// A record of an older term after a newer one is refused before it is
// applied (the check behind "no follower applies a record from the old
// term after the new term began").
func TestFollowerRefusesOlderTerm(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	f := &Follower{bus: bus, metrics: &Metrics{}, maxTerm: 2}
	err = f.apply(t.Context(), 7, []byte{1}, recordMeta{First: 1, Last: 1, Term: 1})
	if !errors.Is(err, ErrStaleTerm) {
		t.Fatalf("older term: %v, want ErrStaleTerm", err)
	}
	if bus.LastLSN() != 0 {
		t.Fatal("a refused record was applied")
	}
}

// TestFollowerStopsOnUndecodablePayload: a record message whose headers
// are sound but whose payload is not a record fails the follower with
// ErrBadMessage (which stops Node.Run: reading it again cannot help),
// applying nothing.
func TestFollowerStopsOnUndecodablePayload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	res := testResources(t, c, cfg)
	msg := &nats.Msg{Subject: res.cfg.Subject(), Header: nats.Header{}, Data: []byte("not a record")}
	recordHeaders(msg.Header, 1, &mmsb.ReplicatedRecord{FirstLSN: 1, LastLSN: 1})
	if _, err := res.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	err = newFollower(bus, res, &Metrics{}).Run(ctx)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("following a stream whose record does not decode: %v, want ErrBadMessage", err)
	}
	if bus.LastLSN() != 0 {
		t.Fatalf("follower at LSN %d, want nothing applied", bus.LastLSN())
	}
}
