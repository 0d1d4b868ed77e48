package inspector_test

import (
	"bytes"
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestProvenanceIntentIsCut: a provenance step carries the first 256 bytes
// of its write's intent, whatever the intent's length; a shorter intent
// comes whole. Before, a 1 MiB intent came whole in every step that
// named its write (up to mmsb.MaxProvenanceWrites steps an answer): a
// writer's 8 MiB intents on the parents of a derived page made each
// provenance of its bytes an answer of 8 MiB times its parents.
func TestProvenanceIntentIsCut(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	long := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	cases := []struct {
		name   string
		intent []byte
		want   []byte
	}{
		{"1 MiB intent", long, long[:256]},
		{"257 bytes", long[:257], long[:256]},
		{"control: 256 bytes", long[:256], long[:256]},
		{"control: short intent", []byte(`{"why":"calibration"}`), []byte(`{"why":"calibration"}`)},
	}
	ids := createSmallPages(t, bus, len(cases))
	for i, c := range cases {
		d := mmsb.Write(ids[i], 0, []byte{byte(i + 1)})
		d.Intent = c.intent
		if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	_, cl, _ := serveInspector(t, inspector.Options{Bus: bus})
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := cl.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(ids[i]), Length: 1}))
			if err != nil {
				t.Fatal(err)
			}
			steps := r.Msg.GetSteps()
			if len(steps) != 1 || !bytes.Equal(steps[0].GetIntent(), c.want) {
				n := -1
				if len(steps) > 0 {
					n = len(steps[0].GetIntent())
				}
				t.Fatalf("%d steps, the first with an intent of %d bytes; want 1 step with the intent's first %d bytes", len(steps), n, len(c.want))
			}
		})
	}
}
