package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectPagesJSONOnEmptyBus: with --pages, inspect --json always has
// a "pages" array, [] for a bus without pages (a script iterating
// .pages[] must not meet a missing key); without --pages the key is
// absent.
func TestInspectPagesJSONOnEmptyBus(t *testing.T) {
	// A bus that never committed, as mmsb.Open leaves it (a bare wal/ is
	// no bus: inspect refuses it, TestReadOnlyCommandsRefuseDirectoryWithoutBus).
	empty := filepath.Join(t.TempDir(), "empty")
	bus, err := mmsb.Open(empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	tb := newTestBus(t)
	for _, tc := range []struct {
		name      string
		args      []string
		wantKey   bool
		wantPages int
	}{
		{"empty bus with --pages", []string{"--pages", empty}, true, 0},
		{"empty bus without --pages", []string{empty}, false, 0},
		{"bus with pages", []string{"--pages", tb.dir}, true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"inspect", "--json"}, tc.args...)...).mustCode(t, exitOK)
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
			}
			raw, ok := got["pages"]
			if ok != tc.wantKey {
				t.Fatalf("\"pages\" present: %v, want %v\n%s", ok, tc.wantKey, r.stdout)
			}
			if !ok {
				return
			}
			var pages []inspectPage
			if err := json.Unmarshal(raw, &pages); err != nil || pages == nil || len(pages) != tc.wantPages {
				t.Fatalf("\"pages\": %s (%v), want an array of %d", raw, err, tc.wantPages)
			}
		})
	}
}
