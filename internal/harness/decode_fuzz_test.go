package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// FuzzParseTargets: a targets file (LoadTargets's --targets input) either
// parses or is refused with ErrTargets, never panics, and what parses
// survives a re-encode: marshalling the parsed Targets and parsing that
// gives the same Targets, and marshalling those again gives the same
// bytes. The published file is a seed and must parse, so a ParseTargets
// that refused everything (which the laws alone let pass) fails here.
func FuzzParseTargets(f *testing.F) {
	pub := DefaultTargets()
	f.Add(pub)
	f.Add(pub[:len(pub)/2])
	f.Add(bytes.Replace(pub, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	f.Add([]byte(`{"version":1,"benchmarks":[]}`))
	f.Add([]byte(`{"version":1,"benchmarks":[{"id":1,"key":"x"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := ParseTargets(b)
		if err != nil {
			if !errors.Is(err, ErrTargets) {
				t.Fatalf("refusal wraps no ErrTargets: %v", err)
			}
			if bytes.Equal(b, pub) {
				t.Fatalf("the published targets file is refused: %v", err)
			}
			return
		}
		enc, err := json.Marshal(tg)
		if err != nil {
			t.Fatalf("parsed targets do not marshal: %v", err)
		}
		again, err := ParseTargets(enc)
		if err != nil {
			t.Fatalf("targets re-encoded as %s are refused: %v", enc, err)
		}
		if !reflect.DeepEqual(again, tg) {
			t.Fatalf("targets re-encoded as %s parse to %+v, want %+v", enc, again, tg)
		}
		if enc2, err := json.Marshal(again); err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("second encoding differs: %s then %s (%v)", enc, enc2, err)
		}
	})
}

// sampleResult is a result with every float form jsonFloat must carry:
// NaN, both infinities, negative zero and an ordinary value, in a check,
// the metrics and a series.
func sampleResult() Result {
	return Result{ID: 3, Key: "replay", Name: "Replay", Target: "0 bytes", Pass: false, Summary: "diverged",
		Checks: []Check{{Name: "bytes_differing", Semantic: true, Value: math.Inf(1), Target: "0"},
			{Name: "rate", Value: math.NaN(), Target: ">= 1", Unit: "ops/s"}},
		Metrics:  map[string]float64{"nan": math.NaN(), "neg_inf": math.Inf(-1), "neg_zero": math.Copysign(0, -1), "x": 1.25},
		Series:   map[string][]float64{"s": {1, math.NaN(), math.Inf(1), -3.5e-300}},
		Error:    "boom",
		Duration: 1500 * time.Millisecond}
}

// sameFloat compares floats bit for bit: NaN equals NaN and -0 differs
// from 0, as a round trip must keep them.
func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func sameFloatMap(a, b map[string]float64) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !sameFloat(v, w) {
			return false
		}
	}
	return true
}

// sameResult reports whether a and b are equal, floats bit for bit.
func sameResult(a, b Result) bool {
	if a.ID != b.ID || a.Key != b.Key || a.Name != b.Name || a.Target != b.Target || a.Pass != b.Pass ||
		a.Summary != b.Summary || a.Error != b.Error || a.Duration != b.Duration ||
		len(a.Checks) != len(b.Checks) || !sameFloatMap(a.Metrics, b.Metrics) || len(a.Series) != len(b.Series) {
		return false
	}
	for i, c := range a.Checks {
		d := b.Checks[i]
		if c.Name != d.Name || c.Semantic != d.Semantic || c.Pass != d.Pass || c.Target != d.Target || c.Unit != d.Unit || !sameFloat(c.Value, d.Value) {
			return false
		}
	}
	for k, vs := range a.Series {
		ws, ok := b.Series[k]
		if !ok || len(vs) != len(ws) {
			return false
		}
		for i := range vs {
			if !sameFloat(vs[i], ws[i]) {
				return false
			}
		}
	}
	return true
}

// FuzzReportJSON: a report's result and a history line (what ReadHistory
// and report readers decode) never panic the decoder, a value that decodes
// always encodes (a non-finite float is written as a string, which
// encoding/json alone refuses), and its encoding is canonical: decoding it
// and encoding again gives the same bytes. The sample result, with NaN,
// both infinities and -0, is a seed and must decode to itself bit for bit.
func FuzzReportJSON(f *testing.F) {
	sample := sampleResult()
	enc, err := json.Marshal(sample)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	rep := Report{Results: []Result{sample}}
	hist, err := json.Marshal(rep.History())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(hist)
	f.Add([]byte(`{"metrics":{"a":"Inf","b":null},"series":{"s":[null,"-Inf"]},"checks":[{"value":"NaN"}]}`))
	f.Add([]byte(`{"metrics":{"a":"nan"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Result
		if err := json.Unmarshal(b, &r); err == nil {
			e1, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("a decoded result does not encode: %v", err)
			}
			var r2 Result
			if err := json.Unmarshal(e1, &r2); err != nil {
				t.Fatalf("result encoded as %s does not decode: %v", e1, err)
			}
			if !sameResult(r, r2) {
				t.Fatalf("result encoded as %s decodes to %+v, want %+v", e1, r2, r)
			}
			if e2, err := json.Marshal(r2); err != nil || !bytes.Equal(e2, e1) {
				t.Fatalf("second encoding differs: %s then %s (%v)", e1, e2, err)
			}
			if bytes.Equal(b, enc) && !sameResult(r, sample) {
				t.Fatalf("the sample result decodes to %+v, want %+v", r, sample)
			}
		} else if bytes.Equal(b, enc) {
			t.Fatalf("the sample result does not decode: %v", err)
		}
		var h HistoryEntry
		if err := json.Unmarshal(b, &h); err != nil {
			if bytes.Equal(b, hist) {
				t.Fatalf("the sample history line does not decode: %v", err)
			}
			return
		}
		e1, err := json.Marshal(h)
		if err != nil {
			// time.Time refuses to encode some times it decodes; report
			// which, so a finding names its input.
			t.Fatalf("a decoded history line does not encode: %v", err)
		}
		var h2 HistoryEntry
		if err := json.Unmarshal(e1, &h2); err != nil {
			t.Fatalf("history line encoded as %s does not decode: %v", e1, err)
		}
		if e2, err := json.Marshal(h2); err != nil || !bytes.Equal(e2, e1) {
			t.Fatalf("second encoding differs: %s then %s (%v)", e1, e2, err)
		}
		if bytes.Equal(b, hist) && (len(h.Results) != 1 || !sameFloatMap(h.Results[0].Metrics, sample.Metrics)) {
			t.Fatalf("the sample history line decodes to %+v", h)
		}
	})
}
