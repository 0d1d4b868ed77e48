package server

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// notServed are sentinels no RPC of this server returns, so they may map
// to Internal (they still travel by name, like every other).
var notServed = map[string]string{
	"ErrLocked":          "Open's; a serving bus holds its lock",
	"ErrWriterGone":      "shared-memory readers'; the server reads its own bus",
	"ErrStale":           "shared-memory readers'",
	"ErrSharedCorrupt":   "shared-memory readers'",
	"ErrSnapshotBusy":    "shared-memory readers'",
	"ErrReplicaOrder":    "a follower's ApplyReplicated; not an RPC",
	"ErrReplicaDiverged": "fails the follower bus: it reaches a client with ErrFailed",
}

// stubService answers Stats and QueryLog with the error err (as the
// handlers do, through toConnect), so that every sentinel can be sent
// without producing it from a bus.
type stubService struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	err error
}

func (s *stubService) Stats(context.Context, *connect.Request[mmsbv1.StatsRequest]) (*connect.Response[mmsbv1.StatsResponse], error) {
	return nil, toConnect(fmt.Errorf("stub: %w", s.err))
}

func (s *stubService) QueryLog(context.Context, *connect.Request[mmsbv1.QueryLogRequest], *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	return toConnect(fmt.Errorf("stub: %w", s.err))
}

// checkArrives says what is wrong with err, the client's error for a
// server error wrapping sent: errors.Is must hold for sent and for every
// sentinel sent wraps, for no other, and the code must be codeFor's.
func checkArrives(err, sent error) error {
	if err == nil {
		return errors.New("no error arrived")
	}
	if !errors.Is(err, sent) {
		return fmt.Errorf("errors.Is(err, %v) is false on the client: %s", sent.Error(), err.Error())
	}
	for _, s := range wire.Sentinels {
		if errors.Is(err, s.Err) != errors.Is(sent, s.Err) {
			return fmt.Errorf("errors.Is(err, %s) is %v on the client, %v on the server: %s", s.Name, errors.Is(err, s.Err), errors.Is(sent, s.Err), err.Error())
		}
	}
	if got, want := connect.CodeOf(err), codeFor(sent); got != want {
		return fmt.Errorf("code %v, want %v: %s", got, want, err.Error())
	}
	if n := strings.Count(err.Error(), sent.Error()); n != 1 {
		return fmt.Errorf("the message names %q %d times: %s", sent.Error(), n, err.Error())
	}
	return nil
}

// TestSentinelsRoundTrip: every mmsb sentinel the server's table names
// reaches the Go client so that errors.Is holds there as with an embedded
// bus, over Connect and gRPC, on a unary call and a stream. Before
// 2026-12-04 only the Connect code came back ("errors.Is(err,
// mmsb: page not found) is false on the client"). Negative control: an
// error the table does not name is caught by the same check.
func TestSentinelsRoundTrip(t *testing.T) {
	stub := &stubService{}
	_, h := mmsbv1connect.NewBusServiceHandler(stub)
	hs := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	defer hs.Close()
	ctx := context.Background()
	for _, proto := range []string{"connect", "grpc"} {
		opts := []client.Option{client.WithRetries(0, 0)}
		if proto == "grpc" {
			opts = append(opts, client.WithGRPC())
		}
		c, err := client.New(hs.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"Stats": func() error { _, err := c.Stats(ctx); return err },
			"QueryLog": func() error {
				return c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true })
			},
		}
		for _, s := range wire.Sentinels {
			stub.err = s.Err
			for name, call := range calls {
				if err := checkArrives(call(), s.Err); err != nil {
					t.Errorf("%s, %s, %s: %v", proto, name, s.Name, err)
				}
			}
		}
		stub.err = errors.New("mmsb: a sentinel in no table")
		if err := checkArrives(calls["Stats"](), stub.err); err == nil {
			t.Errorf("%s: the check passed an error the table does not name", proto)
		}
	}
}

// TestSentinelsCoded: each sentinel the server returns maps to a code
// other than Internal (which tells a client the server has a bug).
func TestSentinelsCoded(t *testing.T) {
	for _, s := range wire.Sentinels {
		if _, ok := notServed[s.Name]; !ok && codeFor(s.Err) == connect.CodeInternal {
			t.Errorf("%s maps to Internal", s.Name)
		}
	}
	for name := range notServed {
		if !slices.ContainsFunc(wire.Sentinels, func(s wire.Sentinel) bool { return s.Name == name }) {
			t.Errorf("notServed names %s, which the table does not", name)
		}
	}
}

// declaredSentinels returns the exported Err variables of the package in
// dir (its non-test files).
func declaredSentinels(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, sp := range gd.Specs {
				for _, n := range sp.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// missingSentinels returns the names not in the server's table.
func missingSentinels(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.ContainsFunc(wire.Sentinels, func(s wire.Sentinel) bool { return s.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}

// TestSentinelsTableComplete: every exported Err variable of package
// mmsb is in the table, so a new sentinel cannot be forgotten. Negative
// control: a name not in the table is reported.
func TestSentinelsTableComplete(t *testing.T) {
	names := declaredSentinels(t, "../..")
	if len(names) < 20 {
		t.Fatalf("found only %d sentinels in package mmsb: %v", len(names), names)
	}
	if m := missingSentinels(names); len(m) > 0 {
		t.Errorf("sentinels of package mmsb not in the server's table (internal/wire/sentinels.go): %v", m)
	}
	if m := missingSentinels([]string{"ErrPageNotFound", "ErrNotInTheTable"}); !slices.Equal(m, []string{"ErrNotInTheTable"}) {
		t.Errorf("control: missingSentinels reported %v, want [ErrNotInTheTable]", m)
	}
}
