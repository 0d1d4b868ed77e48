package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectPagesQuotesFunctionNames: a recompute function's name is
// any string a writer registered. inspect --pages printed it raw, so a
// tab or newline in it misaligned the table and an escape sequence
// reached the terminal; it now prints such a name Go-quoted, a plain name
// as it is, and --json keeps the exact name. mmsb graph (its function
// list and --dot labels) likewise.
func TestInspectPagesQuotesFunctionNames(t *testing.T) {
	ctx := context.Background()
	const odd = "evil\tname\n\x1b[2J\u202e"
	dir := filepath.Join(t.TempDir(), "data")
	copyFn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	bus, err := mmsb.Open(dir, &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{odd: copyFn, "plain.fn": copyFn}})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[1], odd, nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[2], "plain.fn", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "inspect", "--pages", dir).mustCode(t, exitOK)
	if strings.ContainsAny(r.stdout, "\t\x1b\u202e") {
		t.Fatalf("inspect --pages printed a control character raw:\n%q", r.stdout)
	}
	if !strings.Contains(r.stdout, `"evil\tname\n\x1b[2J\u202e"`) {
		t.Errorf("inspect --pages does not show the odd name quoted:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, " plain.fn\n") {
		t.Errorf("inspect --pages does not show a plain name as it is:\n%s", r.stdout)
	}
	// Every row of the pages table is one line: the header and 3 pages.
	_, table, _ := strings.Cut(r.stdout, "PAGE ")
	if n := strings.Count(strings.TrimSpace(table), "\n"); n != 3 {
		t.Errorf("the pages table has %d line breaks, want 3 (one line a page):\n%s", n, table)
	}

	// mmsb graph lists bindings by function, and --dot labels pages with
	// theirs: raw, the name's escape code reached the terminal there too.
	for _, args := range [][]string{{"graph", dir}, {"graph", "--dot", dir}} {
		r := runCLI(t, args...).mustCode(t, exitOK)
		if strings.ContainsAny(r.stdout, "\x1b\u202e") || !strings.Contains(r.stdout, "plain.fn") {
			t.Errorf("%v printed a control character raw, or not the plain name:\n%q", args, r.stdout)
		}
	}

	r = runCLI(t, "inspect", "--pages", "--json", dir).mustCode(t, exitOK)
	var rep inspectReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if len(rep.Pages) != 3 || rep.Pages[1].Func != odd || rep.Pages[2].Func != "plain.fn" {
		t.Errorf("--json pages %+v, want the exact names %q and plain.fn", rep.Pages, odd)
	}
}
