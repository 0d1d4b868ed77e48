package inspector_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestListedTextIsCut: what a writer chose and every listed row or log
// entry repeats is cut at 256 bytes, marked "…". A page's mmsb.type may
// be as long as its metadata (64 KiB): 100 pages with a type of 60 KiB of
// 0xff made a ListPages of 100 rows 24 MB (each type \xNN-escaped to 240
// KiB; 1,000 rows, the most, 240 MB). A Bind's log line named every
// parent: 10,000 parents made it 59 KB, for each such entry of a QueryLog
// (whose newest mode holds up to 10,000 entries); it lists the parents
// that fill 256 bytes, whole, then counts the rest ("… and 9,9xx more"). A short type and a
// Bind of 8 parents are whole (the controls).
func TestListedTextIsCut(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	long := bytes.Repeat([]byte{0xff}, 60<<10)
	specs := make([]mmsb.PageSpec, 100)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: long}}}
	}
	specs = append(specs, mmsb.PageSpec{Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}})
	if _, err := bus.CreatePages(ctx, specs); err != nil {
		t.Fatal(err)
	}
	pids := createSmallPages(t, bus, 10_000)
	kids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, kids[0], "f64.sum", nil, pids); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, kids[1], "f64.sum", nil, pids[:8]); err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})

	t.Run("page type", func(t *testing.T) {
		res, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Limit: 101}))
		if err != nil {
			t.Fatal(err)
		}
		rows := res.Msg.Rows
		if len(rows) != 101 {
			t.Fatalf("%d rows, want 101", len(rows))
		}
		if n := proto.Size(res.Msg); n > 64<<10 {
			t.Errorf("ListPages of 101 rows is %d bytes: over 64 KiB", n)
		}
		for _, r := range rows[:100] {
			if !strings.HasPrefix(r.Type, `\xff\xff`) || !strings.HasSuffix(r.Type, "…") || len(r.Type) > 256+len("…") {
				t.Fatalf("page %d's type is %d bytes (%.40q…): want its first 256 bytes then …", r.Id, len(r.Type), r.Type)
			}
		}
		if r := rows[100]; r.Type != "f64" {
			t.Errorf("page %d's type is %q, want f64", r.Id, r.Type)
		}
	})
	t.Run("bind parents", func(t *testing.T) {
		for _, tc := range []struct {
			child mmsb.PageID
			cut   bool
		}{{kids[0], true}, {kids[1], false}} {
			s, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Page: uint64(tc.child), Newest: true}))
			if err != nil {
				t.Fatal(err)
			}
			var detail string
			for s.Receive() {
				if e := s.Msg(); e.Kind == mmsb.OpBind.String() {
					detail = e.Detail
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			n := 8
			if tc.cut {
				n = len(pids)
			}
			ps := make([]string, n)
			for i, p := range pids[:n] {
				ps[i] = strconv.FormatUint(uint64(p), 10)
			}
			want := "f64.sum(" + strings.Join(ps, ", ") + ")"
			switch {
			case !tc.cut && detail != want:
				t.Errorf("Bind of 8 parents: %q, want %q", detail, want)
			case tc.cut:
				// The parents that fill 256 bytes, whole, then the
				// rest counted exactly.
				head, rest, ok := strings.Cut(detail, ", … and ")
				shown := len(strings.Split(strings.TrimPrefix(head, "f64.sum("), ", "))
				if !ok || len(head)-len("f64.sum(") > 256 || len(head)-len("f64.sum(") < 240 || !strings.HasPrefix(want, head+", ") ||
					rest != grouped(len(pids)-shown)+" more)" {
					t.Errorf("Bind of %d parents: a line of %d bytes (%q), want its first parents whole in 256 bytes then \", … and N more)\"", len(pids), len(detail), detail)
				}
			}
		}
	})
}

// grouped writes n (1,000 to 999,999) with its thousands set off by a
// comma, as the inspector writes counts.
func grouped(n int) string {
	return strconv.Itoa(n/1000) + "," + fmt.Sprintf("%03d", n%1000)
}
