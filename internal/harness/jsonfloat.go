package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// A benchmark that fails numerically (a replay that diverges to +Inf, a
// simulation that reaches NaN) is exactly the run whose report matters most,
// yet encoding/json refuses non-finite floats. Checks, metrics and series
// are therefore written through jsonFloat: a finite value as a JSON number,
// a non-finite one as the string "NaN", "+Inf" or "-Inf". Reading accepts
// both forms, so a report or history line round-trips exactly.

// ErrBadFloat means a JSON float field holds a string other than "NaN", "+Inf",
// "Inf" or "-Inf".
var ErrBadFloat = errors.New("harness: not a number or a non-finite float name")

// jsonFloat is a float64 that survives JSON when it is not finite.
type jsonFloat float64

// MarshalJSON writes finite values as numbers (as encoding/json does) and
// non-finite ones as strings.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a number or one of the non-finite names. null leaves
// the value unchanged, as encoding/json does for plain floats.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf", "Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("%w: %s", ErrBadFloat, strconv.Quote(s))
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

func toJSONMap(m map[string]float64) map[string]jsonFloat {
	if m == nil {
		return nil
	}
	out := make(map[string]jsonFloat, len(m))
	for k, v := range m {
		out[k] = jsonFloat(v)
	}
	return out
}

func fromJSONMap(m map[string]jsonFloat) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

func toJSONSeries(m map[string][]float64) map[string][]jsonFloat {
	if m == nil {
		return nil
	}
	out := make(map[string][]jsonFloat, len(m))
	for k, vs := range m {
		s := make([]jsonFloat, len(vs))
		for i, v := range vs {
			s[i] = jsonFloat(v)
		}
		out[k] = s
	}
	return out
}

func fromJSONSeries(m map[string][]jsonFloat) map[string][]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string][]float64, len(m))
	for k, vs := range m {
		s := make([]float64, len(vs))
		for i, v := range vs {
			s[i] = float64(v)
		}
		out[k] = s
	}
	return out
}

// checkJSON is Check's wire form.
type checkJSON struct {
	Name     string    `json:"name"`
	Semantic bool      `json:"semantic"`
	Pass     bool      `json:"pass"`
	Value    jsonFloat `json:"value"`
	Target   string    `json:"target"`
	Unit     string    `json:"unit,omitempty"`
}

// MarshalJSON writes a non-finite Value as a string (see jsonFloat).
func (c Check) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkJSON{c.Name, c.Semantic, c.Pass, jsonFloat(c.Value), c.Target, c.Unit})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Check) UnmarshalJSON(b []byte) error {
	var w checkJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Check{Name: w.Name, Semantic: w.Semantic, Pass: w.Pass, Value: float64(w.Value), Target: w.Target, Unit: w.Unit}
	return nil
}

// resultJSON is Result's wire form.
type resultJSON struct {
	ID       int                    `json:"id"`
	Key      string                 `json:"key"`
	Name     string                 `json:"name"`
	Target   string                 `json:"target"`
	Pass     bool                   `json:"pass"`
	Summary  string                 `json:"summary"`
	Checks   []Check                `json:"checks"`
	Metrics  map[string]jsonFloat   `json:"metrics"`
	Series   map[string][]jsonFloat `json:"series,omitempty"`
	Error    string                 `json:"error,omitempty"`
	Duration time.Duration          `json:"duration_ns"`
}

// MarshalJSON writes non-finite metrics and series values as strings.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{ID: r.ID, Key: r.Key, Name: r.Name, Target: r.Target, Pass: r.Pass, Summary: r.Summary,
		Checks: r.Checks, Metrics: toJSONMap(r.Metrics), Series: toJSONSeries(r.Series), Error: r.Error, Duration: r.Duration})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var w resultJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Result{ID: w.ID, Key: w.Key, Name: w.Name, Target: w.Target, Pass: w.Pass, Summary: w.Summary,
		Checks: w.Checks, Metrics: fromJSONMap(w.Metrics), Series: fromJSONSeries(w.Series), Error: w.Error, Duration: w.Duration}
	return nil
}

// historyPointJSON is HistoryPoint's wire form.
type historyPointJSON struct {
	ID      int                  `json:"id"`
	Key     string               `json:"key"`
	Pass    bool                 `json:"pass"`
	Failed  []string             `json:"failed,omitempty"`
	Metrics map[string]jsonFloat `json:"metrics"`
}

// MarshalJSON writes non-finite metrics as strings.
func (p HistoryPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(historyPointJSON{p.ID, p.Key, p.Pass, p.Failed, toJSONMap(p.Metrics)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *HistoryPoint) UnmarshalJSON(b []byte) error {
	var w historyPointJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = HistoryPoint{ID: w.ID, Key: w.Key, Pass: w.Pass, Failed: w.Failed, Metrics: fromJSONMap(w.Metrics)}
	return nil
}
