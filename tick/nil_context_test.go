package tick_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// TestNilContextRefused: tick's Submit(nil, &d) panicked (nil pointer
// dereference in the queue's wait). Every exported method of
// *Orchestrator whose first parameter is a context (found by reflection)
// refuses a nil one with mmsb.ErrInvalidOption naming ctx and the method,
// before looking at its other arguments (all zero here).
func TestNilContextRefused(t *testing.T) {
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o, err := tick.New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctxType := reflect.TypeFor[context.Context]()
	recv := reflect.ValueOf(o)
	typ := recv.Type()
	var methods []string
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Type.NumIn() < 2 || m.Type.In(1) != ctxType {
			continue
		}
		name := "tick.Orchestrator." + m.Name
		methods = append(methods, m.Name)
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
		if !errors.Is(got, mmsb.ErrInvalidOption) || !strings.Contains(got.Error(), name+": ctx is nil") {
			t.Errorf("%s(nil, ...) = %v, want ErrInvalidOption naming %s and ctx", name, got, name)
		}
	}
	// Exactly these, in reflection's (name) order: a floor let one that
	// reflection stops finding go untested.
	want := []string{"Drain", "FlushPropagation", "Run", "Submit", "SubmitBatch", "SubmitNoCopy", "Tick"}
	if !slices.Equal(methods, want) {
		t.Errorf("methods taking a context: %v, want %v (update the list with the API)", methods, want)
	}
}
