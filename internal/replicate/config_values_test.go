package replicate

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// Config values that make no sense are refused with ErrConfig, naming the
// field, instead of panicking later (a negative MaxInFlight is a negative
// channel size, a negative CheckpointsKept an index out of range in trim)
// or making every call time out at once.
func TestConfigRefusesNonsenseValues(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative max in flight", Config{Bus: "b", MaxInFlight: -1}},
		{"huge max in flight", Config{Bus: "b", MaxInFlight: math.MaxInt}}, // 1<<40 was a fatal out of memory when the node led
		{"max in flight one over its limit", Config{Bus: "b", MaxInFlight: maxInFlight + 1}},
		{"huge ack timeout", Config{Bus: "b", AckTimeout: math.MaxInt64}}, // 10× overflowed: every bootstrap timed out at once
		{"ack timeout one over its limit", Config{Bus: "b", AckTimeout: maxAckTimeout + 1}},
		{"negative checkpoints kept", Config{Bus: "b", CheckpointsKept: -1}},
		{"negative ack timeout", Config{Bus: "b", AckTimeout: -time.Second}},
		{"negative max record bytes", Config{Bus: "b", MaxRecordBytes: -1}},
		{"max record bytes above a log record", Config{Bus: "b", MaxRecordBytes: tlog.MaxRecordBytes + 1}},
		{"negative lease TTL", Config{Bus: "b", LeaseTTL: -time.Second}},
		{"huge lease TTL", Config{Bus: "b", LeaseTTL: math.MaxInt64}}, // the node waited 73 years before its first try of the lease
		{"lease TTL one over its limit", Config{Bus: "b", LeaseTTL: MaxLeaseTTL + 1}},
		{"lease TTL one under its floor", Config{Bus: "b", LeaseTTL: MinLeaseTTL - 1}},
		{"negative replicas", Config{Bus: "b", Replicas: -1}},
	}
	for _, tc := range tests {
		if _, err := tc.cfg.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
	// The limits themselves are accepted.
	if _, err := (Config{Bus: "b", MaxInFlight: maxInFlight, AckTimeout: maxAckTimeout}).withDefaults(); err != nil {
		t.Errorf("max in flight and ack timeout at their limits: %v", err)
	}
	for _, ttl := range []time.Duration{MinLeaseTTL, MaxLeaseTTL} {
		if _, err := (Config{Bus: "b", LeaseTTL: ttl}).withDefaults(); err != nil {
			t.Errorf("lease TTL %v, at its bound: %v", ttl, err)
		}
	}
}

// NodeConfig values that make no sense are refused by NewNode with
// ErrConfig before it touches the network.
func TestNewNodeRefusesNonsenseValues(t *testing.T) {
	tests := []struct {
		name string
		cfg  NodeConfig
	}{
		{"no connection", NodeConfig{Config: Config{Bus: "b"}, Dir: t.TempDir()}},
		{"no directory", NodeConfig{Config: Config{Bus: "b", MaxInFlight: 1}, Dir: ""}},
		{"negative verify every", NodeConfig{Config: Config{Bus: "b"}, Dir: t.TempDir(), VerifyEvery: -1}},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v, want ErrConfig", tc.name, r)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := NewNode(ctx, tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("%s: %v, want ErrConfig", tc.name, err)
			}
		}()
	}
}
