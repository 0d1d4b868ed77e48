package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// HistoryFile is the file, in a history directory, that holds one JSON
// line per run.
const HistoryFile = "history.jsonl"

// HistoryEntry is one line of history.jsonl: a run's outcome, compact
// enough to append on every CI run and to diff over time.
type HistoryEntry struct {
	Started  time.Time      `json:"started"`
	Quick    bool           `json:"quick"`
	Seed     uint64         `json:"seed"` // Report.Seed
	Machine  string         `json:"machine"`
	GoVer    string         `json:"go_version"`
	Passed   int            `json:"passed"`
	Total    int            `json:"total"`
	Duration float64        `json:"duration_seconds"`
	Results  []HistoryPoint `json:"results"`
	// TargetChanges: as Report.TargetChanges (a run against other targets).
	TargetChanges []string `json:"target_changes,omitempty"`
}

// HistoryPoint is one benchmark's line item in a HistoryEntry.
type HistoryPoint struct {
	ID      int                `json:"id"`
	Key     string             `json:"key"`
	Pass    bool               `json:"pass"`
	Failed  []string           `json:"failed,omitempty"` // names of failed checks that gated
	Metrics map[string]float64 `json:"metrics"`
}

// History condenses a report to a HistoryEntry.
func (rep *Report) History() HistoryEntry {
	h := HistoryEntry{Started: rep.Started, Quick: rep.Quick, Seed: rep.Seed, Machine: rep.Machine, GoVer: rep.GoVer,
		Passed: rep.Passed, Total: rep.Total, Duration: rep.Duration, TargetChanges: rep.TargetChanges}
	for _, r := range rep.Results {
		p := HistoryPoint{ID: r.ID, Key: r.Key, Pass: r.Pass, Metrics: r.Metrics}
		for _, c := range r.Checks {
			if !c.Pass && (c.Semantic || !rep.Quick) {
				p.Failed = append(p.Failed, c.Name)
			}
		}
		if r.Error != "" {
			p.Failed = append(p.Failed, "error")
		}
		if !r.Pass && len(p.Failed) == 0 {
			p.Failed = append(p.Failed, "no-gating-check") // failed with no check that gates in this mode
		}
		h.Results = append(h.Results, p)
	}
	return h
}

// historyMagic begins every line AppendHistory writes (json.Marshal
// writes HistoryEntry's fields in order): how an earlier history, which
// a new line may be appended to, is told from another program's file.
const historyMagic = `{"started":`

// CheckHistoryDir reports whether AppendHistory may append to
// dir/history.jsonl: dir is no bus's directory (nor its wal/,
// checkpoints/ or shared/), and an existing history.jsonl is an earlier
// history (it begins as AppendHistory's lines do, or is empty); anything
// else is refused with ErrNotAnOutput, naming it. A dir that does not
// exist is fine (AppendHistory makes it). validate --history appended to
// any history.jsonl, in any directory, until 2026-12-07.
func CheckHistoryDir(dir string) error {
	_, err := checkOutputs(dir, historyKind, []outputFile{{name: HistoryFile, magic: []byte(historyMagic), what: "an earlier history", empty: true}})
	return err
}

// AppendHistory appends the report's HistoryEntry as one JSON line to
// dir/history.jsonl, creating dir if needed, where CheckHistoryDir
// allows (checked again here, right before the append: the run that made
// rep took minutes). A line is written with a single write call, so
// concurrent runs do not interleave within a line.
func AppendHistory(dir string, rep *Report) error {
	b, err := json.Marshal(rep.History())
	if err != nil {
		return fmt.Errorf("harness: history: %w", err)
	}
	if err := CheckHistoryDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("harness: history: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("harness: history: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return fmt.Errorf("harness: history: %w", err)
	}
	return f.Close()
}

// ReadHistory reads every entry of dir/history.jsonl, oldest first. A
// missing file is an empty history.
func ReadHistory(dir string) ([]HistoryEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, HistoryFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("harness: history: %w", err)
	}
	var out []HistoryEntry
	for i, line := range splitLines(append(b, '\n')) {
		if len(line) == 0 {
			continue
		}
		var h HistoryEntry
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			return out, fmt.Errorf("harness: history: line %d: %w", i+1, err)
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return a.Started.Compare(b.Started) })
	return out, nil
}
