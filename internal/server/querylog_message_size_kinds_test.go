package server_test

import (
	"bytes"
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestQueryLogMessageSizeAllKinds: QueryLog bounds its messages by the
// data of every kind of operation, not only deltas': a client reading at
// most 16 MiB a message gets every binding with 1 MiB of params, one
// reading 8 MiB every metadata change of 60 KiB. Until 2026-12-06 only
// delta data counted, and up to 256 such operations went in one message:
// 48 bindings made a 48 MiB message ("message size ... is larger than
// configured max"), and with the Go client's default limit 140 of them
// made a log no client could read. Control: small params.
func TestQueryLogMessageSizeAllKinds(t *testing.T) {
	cases := []struct {
		name    string
		size    int // params or metadata bytes per operation
		kind    mmsb.OpKind
		ops     int
		readMax int
	}{
		{"bindings with 1 MiB of params", 1 << 20, mmsb.OpBind, 48, 16 << 20},
		{"metadata of 60 KiB", 60 << 10, mmsb.OpSetMeta, 200, 8 << 20},
		{"control: bindings with 16 bytes of params", 16, mmsb.OpBind, 48, 16 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixOpts{dir: t.TempDir(), clientO: []client.Option{client.WithConnectOptions(connect.WithReadMaxBytes(c.readMax))}})
			ctx := context.Background()
			specs := make([]mmsb.PageSpec, c.ops+1)
			for i := range specs {
				specs[i].Size = 8
			}
			ids, err := f.bus.CreatePages(ctx, specs)
			if err != nil {
				t.Fatal(err)
			}
			blob := bytes.Repeat([]byte("p"), c.size)
			for _, id := range ids[1:] {
				if c.kind == mmsb.OpBind {
					err = f.bus.Bind(ctx, id, "copy", blob, []mmsb.PageID{ids[0]})
				} else {
					err = f.bus.SetMetadata(ctx, id, []mmsb.MetaEntry{{Key: "k", Value: blob}})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			err = f.c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{c.kind}}, func(*mmsb.LoggedOp) bool { n++; return true })
			if err != nil || n != c.ops {
				t.Fatalf("QueryLog: %d of %d operations, %v", n, c.ops, err)
			}
		})
	}
}
