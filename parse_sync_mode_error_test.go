package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// TestParseSyncModeErrorNamesEveryMode: the error of an unknown sync mode
// was the log's, "tlog: unknown sync mode "GROUP" (want group, always or
// none)": it left out "replicated", which ParseSyncMode takes, and showed
// an internal package's prefix. It is the bus's own now, naming all four,
// with a long name cut. The control: the four names still parse.
func TestParseSyncModeErrorNamesEveryMode(t *testing.T) {
	for _, s := range []string{"GROUP", "Replicated", strings.Repeat("x", 500)} {
		_, err := ParseSyncMode(s)
		if !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("ParseSyncMode(%.20q): %v; want ErrInvalidOption", s, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "tlog") || !strings.Contains(msg, "group, always, none or replicated") ||
			!strings.Contains(msg, s[:min(len(s), 64)]) || len(msg) > 200 {
			t.Errorf("ParseSyncMode(%.20q) error %q; want the bus's, naming the value (cut) and all four modes", s, msg)
		}
	}
	for _, m := range []SyncMode{SyncGroup, SyncAlways, SyncNone, SyncReplicated} {
		if got, err := ParseSyncMode(m.String()); err != nil || got != m {
			t.Errorf("ParseSyncMode(%q) = %v, %v", m.String(), got, err)
		}
	}
}
