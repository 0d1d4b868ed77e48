package client_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/client"
)

// TestReadLimitErrorQuotesLimitInForce: a client whose connect options
// set another read limit (4 KiB) does not claim DefaultReadMaxBytes'
// value in its read-limit error (it said "DefaultReadMaxBytes, 134217728"
// beside connect's "configured max 4096"); connect's own number, the
// limit in force, is still there. TestReadLimitErrorKnownLimit covers a
// client without connect options, which quotes its limit.
func TestReadLimitErrorQuotesLimitInForce(t *testing.T) {
	ctx := context.Background()
	def := strconv.Itoa(client.DefaultReadMaxBytes)
	c := fakeClient(t, bigProvenanceServer{intent: 8 << 10}, client.WithConnectOptions(connect.WithReadMaxBytes(4<<10)))
	_, err := c.Provenance(ctx, 1, 0, 1, 0)
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("Provenance = %v (code %v), want resource_exhausted", err, connect.CodeOf(err))
	}
	msg := err.Error()
	if strings.Contains(msg, def) {
		t.Errorf("Provenance = %q: quotes DefaultReadMaxBytes' value %s, not the limit in force (4096)", msg, def)
	}
	for _, want := range []string{"Provenance", "configured max 4096", "WithReadMaxBytes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Provenance = %q, want it to name %q", msg, want)
		}
	}
}
