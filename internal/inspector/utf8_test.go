package inspector_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInvalidUTF8IsShownEscaped: strings writers chose that are not valid
// UTF-8 (a page's mmsb.type metadata, which is bytes and which any client
// with the write role sets through SetMetadata; a delta's source from a
// program embedding the bus) are answered with the bad bytes written as
// \xNN. Before, the JSON codec refused to encode the answer: one such page
// failed every ListPages listing it (the pages view of every viewer) and
// its GetPage, and one such delta every GetPage, Provenance and QueryLog
// that met it, with internal: "contains invalid UTF-8". The second page,
// valid throughout, is the control.
func TestInvalidUTF8IsShownEscaped(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}}})
	if err != nil {
		t.Fatal(err)
	}
	bad, good := ids[0], ids[1]
	if err := bus.SetMetadata(ctx, bad, []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f\xff64")}}); err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(bad, 0, []byte{1, 2})
	d.Source = "sensor\xfe"
	ok := mmsb.Write(good, 0, []byte{3})
	ok.Source = "sensor"
	if _, err := bus.Commit(ctx, []mmsb.Delta{d, ok}); err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})

	cases := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"ListPages: type", func() (string, error) {
			r, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{}))
			if err != nil {
				return "", err
			}
			return r.Msg.GetRows()[0].GetType(), nil
		}, `f\xff64`},
		{"control: ListPages: a valid type", func() (string, error) {
			r, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{}))
			if err != nil {
				return "", err
			}
			return r.Msg.GetRows()[1].GetType(), nil
		}, "f64"},
		{"GetPage: recent write's source", func() (string, error) {
			r, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(bad)}))
			if err != nil {
				return "", err
			}
			return r.Msg.GetPage().GetType() + " " + r.Msg.GetRecent()[0].GetSource(), nil
		}, `f\xff64 sensor\xfe`},
		{"Provenance: step's source", func() (string, error) {
			r, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(bad), Length: 2}))
			if err != nil {
				return "", err
			}
			return r.Msg.GetSteps()[0].GetSource(), nil
		}, `sensor\xfe`},
		{"QueryLog: entry's source", func() (string, error) {
			s, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Page: uint64(bad)}))
			if err != nil {
				return "", err
			}
			var src string
			for s.Receive() {
				src = s.Msg().GetSource()
			}
			return src, s.Err()
		}, `sensor\xfe`},
		{"control: GetPage: a valid source", func() (string, error) {
			r, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(good)}))
			if err != nil {
				return "", err
			}
			return r.Msg.GetPage().GetType() + " " + r.Msg.GetRecent()[0].GetSource(), nil
		}, "f64 sensor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestSearchErrorIsBounded: a ListPages search that is nothing known is
// invalid_argument naming the search by its first 64 characters and its
// length, whatever its length. Before, the error quoted all of it: 1 MiB
// of control characters made an error message of 4 MiB (under `mmsb
// serve`, whose read limit is 64 MiB, a request in the binary codec made
// one of 256 MiB).
func TestSearchErrorIsBounded(t *testing.T) {
	bus := memBus(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, MaxRequestBytes: 8 << 20})
	for _, tc := range []struct {
		name, search, says string
	}{
		{"1 MiB of control characters", strings.Repeat("\x01", 1<<20), `"\x01\x01`},
		{"control: a short unknown word", "nonsense", `search "nonsense" (8 bytes) is not a page ID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListPages(context.Background(), connect.NewRequest(&inspectorv1.ListPagesRequest{Search: tc.search}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.says) || len(err.Error()) > 1024 {
				t.Fatalf("%d bytes of error: %.200s; want invalid_argument of at most 1 KiB with %q", len(err.Error()), err, tc.says)
			}
		})
	}
}
