package inspector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
)

// TestLogIntentCutIsMarked: the log view quotes a write's intent up to
// 120 bytes; a longer one is cut there (on a rune boundary) and marked
// "…", as the other cut texts are. The cut was unmarked, so a 300-byte
// intent read as one of 120.
func TestLogIntentCutIsMarked(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	split := "a" + strings.Repeat("é", 100) // byte 120 is inside an é
	for _, tc := range []struct{ intent, want string }{
		{"ok", `intent "ok"`},
		{long[:120], `intent "` + long[:120] + `"`},
		{long, `intent "` + long[:120] + `"…`},
		{split, `intent "` + split[:119] + `"…`},
	} {
		d := mmsb.Write(id, 0, []byte{1})
		d.Intent = []byte(tc.intent)
		if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
			t.Fatal(err)
		}
		entries, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(id), Limit: 1, Newest: true})
		if err != nil || len(entries) == 0 {
			t.Fatalf("no entry: %v", err)
		}
		if got := entries[0].Detail; got != tc.want {
			t.Errorf("intent of %d bytes: detail %q, want %q", len(tc.intent), got, tc.want)
		}
	}
}
