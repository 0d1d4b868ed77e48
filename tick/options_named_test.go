package tick

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestNewOptionErrorsNameTheField: every numeric option out of range is
// refused with mmsb.ErrInvalidOption naming that field, its value and the
// bound. It said "negative tick option in {QueueSize:-1 FailWhenFull:false
// ...}" of any field, and "tick QueueSize 0 or MetricsWindow 1048577 over
// its limit (4194304, 1048576)". The rows of negative values come from the
// Options struct, so a new numeric field cannot be left out.
func TestNewOptionErrorsNameTheField(t *testing.T) {
	e := openMem(t, nil)
	type row struct {
		set  func(*Options)
		want string
	}
	var rows []row
	typ := reflect.TypeFor[Options]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Int && f.Type.Kind() != reflect.Int64 {
			continue
		}
		want := "tick: " + f.Name + " -1 is negative (0: the default)"
		if f.Type == reflect.TypeFor[time.Duration]() {
			want = "tick: " + f.Name + " -1ns is negative (0: the default)"
		}
		rows = append(rows, row{func(o *Options) { reflect.ValueOf(o).Elem().Field(i).SetInt(-1) }, want})
	}
	if len(rows) < 5 {
		t.Fatalf("only %d numeric options found", len(rows))
	}
	rows = append(rows,
		row{func(o *Options) { o.QueueSize = maxQueueSize + 1 }, "tick: QueueSize 4194305 over its limit 4194304"},
		row{func(o *Options) { o.MetricsWindow = maxMetricsWindow + 1 }, "tick: MetricsWindow 1048577 over its limit 1048576"},
	)
	for _, r := range rows {
		var o Options
		r.set(&o)
		or, err := New(e, &o)
		if err == nil {
			or.Close()
		}
		if !errors.Is(err, mmsb.ErrInvalidOption) || err.Error() != mmsb.ErrInvalidOption.Error()+": "+r.want {
			t.Errorf("New(%+v) = %v, want ErrInvalidOption saying %q", o, err, r.want)
		}
	}
	// At the limits: accepted (control).
	or, err := New(e, &Options{QueueSize: maxQueueSize, MetricsWindow: maxMetricsWindow})
	if err != nil {
		t.Fatalf("New at the limits: %v", err)
	}
	or.Close()
}
