package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
)

// TestFailedCallLogBounded: a failed call's line in the request log holds
// at most about a kilobyte of its error, however much of the request the
// error quotes, and says how long the error was. Before, a Bind naming a
// function of 1 MiB, refused with an error quoting the name, wrote a log
// line of over 1 MiB at Info, for each such call. Control: a short error
// is logged whole.
func TestFailedCallLogBounded(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		fn     string
		logged string // in the log line
	}{
		{"short", "no.such.func", `no.such.func`},
		{"1 MiB", strings.Repeat("f", 1<<20), "bytes in all)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.logs.Len()
			err := f.c.Bind(ctx, ids[1], c.fn, nil, []mmsb.PageID{ids[0]})
			wantCode(t, err, connect.CodeInvalidArgument)
			logged := f.logs.String()[before:]
			var line string
			for _, l := range strings.Split(logged, "\n") {
				if strings.Contains(l, "Bind") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no log line for the call in %q", logged[:min(len(logged), 512)])
			}
			if len(line) > 2048 || !strings.Contains(line, c.logged) {
				t.Fatalf("the call's log line is %d bytes; want at most 2048, with %q: %.300s", len(line), c.logged, line)
			}
		})
	}
}
