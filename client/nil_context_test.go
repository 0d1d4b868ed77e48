package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/ctxarg"
)

// TestClientNilContext: every call given a nil context returns an error
// wrapping mmsb.ErrInvalidOption that names the call in the bus's words,
// and asks the server nothing. Until 2026-12-06 each panicked (a nil pointer in connect, or
// "cannot create context from nil parent" in QueryLog and Watch).
func TestClientNilContext(t *testing.T) {
	c := fakeClient(t, mmsbv1connect.UnimplementedBusServiceHandler{})
	var ctx context.Context // nil
	calls := []struct {
		name string
		call func() error
	}{
		{"CreatePages", func() error { _, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}}); return err }},
		{"CreatePage", func() error { _, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8}); return err }},
		{"FreePage", func() error { return c.FreePage(ctx, 1) }},
		{"SetMetadata", func() error { return c.SetMetadata(ctx, 1, nil) }},
		{"Commit", func() error { _, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte("x"))}); return err }},
		{"Submit", func() error { return c.Submit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte("x"))}) }},
		{"ReadRange", func() error { _, _, _, err := c.ReadRange(ctx, 1, 0, 1); return err }},
		{"ReadPage", func() error { _, _, _, err := c.ReadPage(ctx, 1); return err }},
		{"ReadPageAt", func() error { _, _, err := c.ReadPageAt(ctx, 1, 1); return err }},
		{"Read", func() error { _, err := c.Read(ctx, []*mmsbv1.ReadItem{{Page: 1}}, 0); return err }},
		{"ListPages", func() error { _, _, err := c.ListPages(ctx, 0, 10); return err }},
		{"PageIDs", func() error { _, err := c.PageIDs(ctx); return err }},
		{"QueryLog", func() error { return c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true }) }},
		{"Provenance", func() error { _, err := c.Provenance(ctx, 1, 0, 1, 0); return err }},
		{"AddEdge", func() error { return c.AddEdge(ctx, 1, 2, mmsb.EdgeData) }},
		{"RemoveEdge", func() error { return c.RemoveEdge(ctx, 1, 2, mmsb.EdgeData) }},
		{"RemoveEdges", func() error { return c.RemoveEdges(ctx, 1, 2) }},
		{"Bind", func() error { return c.Bind(ctx, 2, "f", nil, []mmsb.PageID{1}) }},
		{"Unbind", func() error { return c.Unbind(ctx, 2) }},
		{"Checkpoint", func() error { _, err := c.Checkpoint(ctx); return err }},
		{"Stats", func() error { _, err := c.Stats(ctx); return err }},
		{"StatsWithHash", func() error { _, err := c.StatsWithHash(ctx); return err }},
		{"StateHash", func() error { _, err := c.StateHash(ctx); return err }},
		{"LastLSN", func() error { _, err := c.LastLSN(ctx); return err }},
		{"VerifyReplay", func() error { _, err := c.VerifyReplay(ctx, false); return err }},
		{"Watch", func() error {
			return c.Watch(ctx, client.WatchOptions{MaxReconnects: 1}, func(client.WatchEvent) error { return errors.New("event") })
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			err := noPanic(tc.call)
			// One wording for a nil context, the bus's and tick's
			// (internal/ctxarg): the client said it its own way until
			// 2026-12-07.
			want := "mmsb: invalid option: Client." + tc.name + ": ctx is nil (use context.Background())"
			if !errors.Is(err, mmsb.ErrInvalidOption) || err.Error() != want ||
				err.Error() != ctxarg.Check(ctx, "Client."+tc.name, mmsb.ErrInvalidOption).Error() {
				t.Fatalf("got %v, want an error wrapping mmsb.ErrInvalidOption: %q", err, want)
			}
		})
	}
	// The negative control: with a context, the same client asks the
	// server (which implements nothing).
	if _, err := c.LastLSN(context.Background()); err == nil || errors.Is(err, mmsb.ErrInvalidOption) {
		t.Fatalf("LastLSN with a context: %v, want the server's Unimplemented", err)
	}
}
