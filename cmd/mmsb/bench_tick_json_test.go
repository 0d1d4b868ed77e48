package main

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestDocumentedTickJSONMatchesOutput: the table of `mmsb bench --workload
// tick --json` fields in docs/cli.md's tick workload section and a tiny
// run's output name the same fields, both ways (the page listed seven of
// them and "..."; a field added to the output, or renamed, fails here).
// The comparison's negative control is TestTickJSONCheckCatchesDrift.
func TestDocumentedTickJSONMatchesOutput(t *testing.T) {
	documented := tickTableFields(t, readCLIPage(t))
	r := runCLI(t, "bench", "--no-progress", "--json", "--workload", "tick", "--ticks", "3", "--pages", "50",
		"--derived", "5", "--deltas-per-tick", "5").mustCode(t, exitOK)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if drift := tableDrift(documented, got); len(drift) > 0 {
		t.Errorf("docs/cli.md's table of tick --json fields and the output differ:\n  %s\noutput:\n%s", strings.Join(drift, "\n  "), r.stdout)
	}
}

// TestTickJSONCheckCatchesDrift: a field the table names that the output
// lacks, and one the output prints that the table does not name, are both
// reported; the same sets are not.
func TestTickJSONCheckCatchesDrift(t *testing.T) {
	got := map[string]any{"workload": "tick", "tick_p50_ns": 1.0, "gc_cycles": 0.0}
	if d := tableDrift([]string{"workload", "tick_p50_ns", "gc_cycles"}, got); len(d) != 0 {
		t.Fatalf("equal sets reported as drift: %v", d)
	}
	d := tableDrift([]string{"workload", "tick_p50_ns", "tick_p99_ns"}, got)
	want := []string{"documented, not printed: tick_p99_ns", "printed, not documented: gc_cycles"}
	if !slices.Equal(d, want) {
		t.Fatalf("drift %q, want %q", d, want)
	}
	if f := tickTableFieldsOf("### Tick workload (`mmsb bench --workload tick`)\n\nno table here\n"); len(f) != 0 {
		t.Fatalf("fields %q read from a section without a table", f)
	}
}

// tickTableFields returns the fields named in the first column of the
// "| JSON field |" table of docs/cli.md's tick workload section.
func tickTableFields(t *testing.T, page string) []string {
	t.Helper()
	fields := tickTableFieldsOf(page)
	if len(fields) < 20 {
		t.Fatalf("docs/cli.md's tick workload section lists only %d JSON fields: %q", len(fields), fields)
	}
	return fields
}

func tickTableFieldsOf(page string) []string {
	start := strings.Index(page, "### Tick workload (`mmsb bench --workload tick`)")
	if start < 0 {
		return nil
	}
	text := page[start:]
	// The section ends at the next heading: a table after it is not the
	// tick workload's.
	if end := strings.Index(text[1:], "\n#"); end >= 0 {
		text = text[:end+1]
	}
	return benchTableFieldsOf(text)
}

// tableDrift lists, sorted, the documented fields got lacks and the fields
// got has that are not documented.
func tableDrift(documented []string, got map[string]any) []string {
	var drift []string
	for _, name := range documented {
		if _, ok := got[name]; !ok {
			drift = append(drift, "documented, not printed: "+name)
		}
	}
	for name := range got {
		if !slices.Contains(documented, name) {
			drift = append(drift, "printed, not documented: "+name)
		}
	}
	sort.Strings(drift)
	return drift
}
