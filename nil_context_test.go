package mmsb_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestNilContextRefused: a nil ctx panicked (nil pointer dereference) in
// most methods (Commit, CreatePage, Checkpoint, QueryLog, Provenance,
// ReadPageAt, VerifyReplay, AddEdge, FreePage, Bind, the package's Replay)
// while WaitLSN, Propagate and Flush took it. Every exported method of
// *Bus and *Reader whose first parameter is a context (found by reflection,
// so a new one cannot be left out), and the package's functions taking
// one, refuse it with ErrInvalidOption naming ctx and the function, before
// looking at their other arguments (all zero here).
func TestNilContextRefused(t *testing.T) {
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctxType := reflect.TypeFor[context.Context]()
	var methods []string
	for _, recv := range []reflect.Value{reflect.ValueOf(b), reflect.ValueOf(&mmsb.Reader{})} {
		typ := recv.Type()
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if m.Type.NumIn() < 2 || m.Type.In(1) != ctxType {
				continue
			}
			name := typ.Elem().Name() + "." + m.Name
			methods = append(methods, name)
			args := []reflect.Value{recv}
			for j := 1; j < m.Type.NumIn(); j++ {
				args = append(args, reflect.Zero(m.Type.In(j)))
			}
			var out []reflect.Value
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s(nil, ...) panicked: %v", name, p)
					}
				}()
				out = m.Func.Call(args)
			}()
			if out == nil {
				continue
			}
			got, _ := out[len(out)-1].Interface().(error)
			checkNilCtxErr(t, name, got)
		}
	}
	// Exactly these: a method that stops taking a context first, or that
	// reflection stops finding, fails here rather than going untested (a
	// floor of 20 let six of the 27 go).
	if want := nilCtxMethods; !slices.Equal(methods, want) {
		t.Errorf("methods taking a context: %v\nwant %v (update nilCtxMethods with the API)", methods, want)
	}
	// A nil ctx is the point: passed through a variable, as staticcheck
	// (SA1012) refuses a literal nil and CI runs it on its own.
	var nilCtx context.Context
	_, err = mmsb.Replay(nilCtx, t.TempDir(), mmsb.ReplayTarget{}, nil)
	checkNilCtxErr(t, "Replay", err)
	err = mmsb.QueryLogDir(nilCtx, nil, t.TempDir(), mmsb.LogQuery{}, nil)
	checkNilCtxErr(t, "QueryLogDir", err)
}

// nilCtxMethods: the exported methods of *Bus and *Reader whose first
// parameter is a context, in reflection's (name) order.
var nilCtxMethods = []string{
	"Bus.AddEdge", "Bus.ApplyReplicated", "Bus.Bind", "Bus.Checkpoint", "Bus.ClearFlags",
	"Bus.Commit", "Bus.CommitAsync", "Bus.CreatePage", "Bus.CreatePages", "Bus.Flush",
	"Bus.FreePage", "Bus.Propagate", "Bus.PropagateInto", "Bus.Provenance", "Bus.ProvenanceWith",
	"Bus.QueryLog", "Bus.ReadPageAt", "Bus.RemoveEdge", "Bus.RemoveEdges", "Bus.Replay",
	"Bus.SetMetadata", "Bus.Unbind", "Bus.VerifyReplay", "Bus.WaitDurable", "Bus.WaitLSN",
	"Reader.Wait",
}

func checkNilCtxErr(t *testing.T, name string, err error) {
	t.Helper()
	if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), name+": ctx is nil") {
		t.Errorf("%s(nil, ...) = %v, want ErrInvalidOption naming %s and ctx", name, err, name)
	}
}
