package server

import (
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestQueryLogKindsOnce: the bus query of a QueryLog request holds each
// kind once, however often the request names it, in the order first
// named; an unknown kind is refused naming its index and quoting at most
// a few dozen of its bytes. Before, every name became an entry, and the
// bus compared each operation it read with each: a request naming "meta"
// 2^20 times took 2.4 s of CPU to query a log of 1,000 operations, 10 ms
// with one name. Control: the request naming each kind once converts to
// the same query.
func TestQueryLogKindsOnce(t *testing.T) {
	repeat := func(n int, names ...string) []string {
		var out []string
		for range n {
			out = append(out, names...)
		}
		return out
	}
	cases := []struct {
		name    string
		kinds   []string
		want    []mmsb.OpKind
		refused string // a part of the error, "" when accepted
	}{
		{"each once", []string{"delta", "meta"}, []mmsb.OpKind{mmsb.OpDelta, mmsb.OpSetMeta}, ""},
		{"named 2^17 times", repeat(1<<17, "delta", "meta", "delta"), []mmsb.OpKind{mmsb.OpDelta, mmsb.OpSetMeta}, ""},
		{"none", nil, nil, ""},
		{"unknown", []string{"delta", "meta", "teleport"}, nil, `kinds[2]: unknown operation kind "teleport"`},
		{"unknown and long", []string{strings.Repeat("é", 1<<19)}, nil, "kinds[0]: unknown operation kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := logQuery(&mmsbv1.QueryLogRequest{Kinds: c.kinds})
			if c.refused != "" {
				if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("got %v, want invalid_argument containing %q", err, c.refused)
				}
				if len(err.Error()) > 256 {
					t.Fatalf("the error quotes %d bytes of the request", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(q.Kinds, c.want) {
				t.Fatalf("the query's kinds are %d entries %v..., want %v", len(q.Kinds), q.Kinds[:min(len(q.Kinds), 4)], c.want)
			}
		})
	}
}
