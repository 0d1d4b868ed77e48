package main

import (
	"context"
	"reflect"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/metrics"
)

// The registry of 'serve --replicate' adds the counters and histograms of
// the buses of the roles before to the current bus's: a role change (the
// node closes its bus and opens another) does not restart them at 0. The
// gauges are the newest bus's; before the first role there is no bus
// metric at all.
func TestRoleMetricsCountersSurviveRoleChange(t *testing.T) {
	met, err := newRoleMetrics(func() metrics.ReplicationStats { return metrics.ReplicationStats{} })
	if err != nil {
		t.Fatal(err)
	}
	if fams := gatherFamilies(t, met); fams["mmsb_commits_total"] != nil {
		t.Fatalf("mmsb_commits_total exported before any role")
	}
	ctx := context.Background()
	commitN := func(bus *mmsb.Bus, n int) {
		id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	open := func(sync mmsb.SyncMode) *mmsb.Bus {
		bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1, Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close() })
		return bus
	}
	// check checks the counters, the commit durations (one series, of the
	// newest bus's sync mode, holding the commits of the buses in that
	// mode) and a gauge.
	check := func(when string, commits float64, sync string, syncCommits uint64, lsn float64) {
		t.Helper()
		fams := gatherFamilies(t, met)
		if f := fams["mmsb_commits_total"]; f == nil || f.Metric[0].GetCounter().GetValue() != commits {
			t.Errorf("%s: mmsb_commits_total = %v, want %v", when, f, commits)
		}
		if f := fams["mmsb_commit_duration_seconds"]; f == nil || len(f.Metric) != 1 || f.Metric[0].Label[0].GetValue() != sync ||
			f.Metric[0].GetHistogram().GetSampleCount() != syncCommits {
			t.Errorf("%s: mmsb_commit_duration_seconds = %v, want one series, sync=%q, %v observations", when, f, sync, syncCommits)
		}
		if f := fams["mmsb_committed_lsn"]; f == nil || f.Metric[0].GetGauge().GetValue() != lsn {
			t.Errorf("%s: mmsb_committed_lsn = %v, want %v (the newest bus's)", when, f, lsn)
		}
	}
	b1 := open(mmsb.SyncGroup)
	commitN(b1, 3)
	met.begin(b1, nil)
	check("first role", 3, "group", 3, 4)
	met.end()
	commitN(b1, 1) // its final checkpoint, say, after the role ended
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	check("between roles", 4, "group", 4, 6)
	b2 := open(mmsb.SyncGroup)
	commitN(b2, 2)
	met.begin(b2, nil)
	check("second role", 6, "group", 6, 3)
	met.end()
	_ = b2.Close()
	b3 := open(mmsb.SyncNone) // as a leader's bus syncs otherwise than a follower's
	commitN(b3, 1)
	met.begin(b3, nil)
	check("third role", 7, "none", 1, 2)
	met.end()
	_ = b3.Close()
	b4 := open(mmsb.SyncGroup)
	met.begin(b4, nil)
	check("fourth role", 7, "group", 6, 0)
}

// addBusMetrics adds every counter and histogram of mmsb.Metrics and takes
// every other field from the newer bus: a field added to mmsb.Metrics is
// caught here until addBusMetrics knows it.
func TestAddBusMetricsCoversEveryField(t *testing.T) {
	gauges := map[string]bool{"SyncMode": true, "CheckpointBytes": true, "CheckpointLastLSN": true, "CommittedLSN": true,
		"DurableLSN": true, "OldestRetainedLSN": true, "Pages": true, "PageBytes": true}
	var a, b mmsb.Metrics
	av, bv := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	h := func(n uint64) mmsb.Histogram {
		return mmsb.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{n, n}, Count: n, Sum: float64(n)}
	}
	for i := range av.NumField() {
		switch f := av.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("old")
			bv.Field(i).SetString("new")
		case reflect.Uint64:
			f.SetUint(1)
			bv.Field(i).SetUint(2)
		case reflect.Int, reflect.Int64:
			f.SetInt(1)
			bv.Field(i).SetInt(2)
		case reflect.Struct:
			f.Set(reflect.ValueOf(h(1)))
			bv.Field(i).Set(reflect.ValueOf(h(2)))
		default:
			t.Fatalf("field %s of kind %v: teach this test and addBusMetrics", av.Type().Field(i).Name, f.Kind())
		}
	}
	sum := reflect.ValueOf(addBusMetrics(a, b))
	for i := range sum.NumField() {
		name, f := av.Type().Field(i).Name, sum.Field(i)
		var got any
		want := any(uint64(3)) // a counter: 1 + 2
		switch f.Kind() {
		case reflect.String:
			got, want = f.String(), "new"
		case reflect.Uint64:
			got = f.Uint()
		case reflect.Int, reflect.Int64:
			got = uint64(f.Int())
		case reflect.Struct:
			hs := f.Interface().(mmsb.Histogram)
			got = hs.Count
			if hs.Counts[1] != 3 || hs.Sum != 3 {
				t.Errorf("%s = %+v, want each count and the sum added", name, hs)
			}
		}
		if gauges[name] && f.Kind() != reflect.String {
			want = uint64(2) // the newer bus's
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func gatherFamilies(t *testing.T, met *roleMetrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := met.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}
