package docs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/record"
)

// The kind tables of formats.md (log operations and checkpoint records)
// and the limits its text states, read from the page and held to the
// code's constants. internal/record's formatdoc_test.go builds bytes from
// its own copies of the kinds; this checks that the page still says what
// those copies say (a row renumbered or renamed on the page alone passed
// both before).

var kindRowRE = regexp.MustCompile(`^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|`)

// kindTable returns kind → name for the first table after the line that
// holds marker.
func kindTable(page, marker string) (map[int]string, error) {
	i := strings.Index(page, marker)
	if i < 0 {
		return nil, fmt.Errorf("no %q", marker)
	}
	rows := map[int]string{}
	inTable := false
	for _, line := range strings.Split(page[i:], "\n")[1:] {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		if m := kindRowRE.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[1])
			if prev, dup := rows[k]; dup {
				// Kept as a map, the later row alone was compared.
				return nil, fmt.Errorf("kind %d listed twice (%q and %q) after %q", k, prev, m[2], marker)
			}
			rows[k] = m[2]
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no kind rows after %q", marker)
	}
	return rows, nil
}

// checkKinds compares a kind table with want (kind → name): every kind
// named, with that name, and no other.
func checkKinds(name string, rows map[int]string, want map[int]string) []string {
	var problems []string
	for k, w := range want {
		if got, ok := rows[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s: no row for kind %d (%s)", name, k, w))
		} else if got != w {
			problems = append(problems, fmt.Sprintf("%s: kind %d is %q, the code's is %q", name, k, got, w))
		}
	}
	for k, got := range rows {
		if _, ok := want[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s: kind %d (%q) is not the code's", name, k, got))
		}
	}
	return problems
}

// formatsKindProblems checks formats.md's text (page) against the code.
func formatsKindProblems(page string) []string {
	var problems []string
	ops := map[int]string{}
	for k := 1; k < 256; k++ {
		if s := record.OpKind(k).String(); !strings.HasPrefix(s, "op(") {
			ops[k] = s
		}
	}
	ckpt := map[int]string{
		int(record.CkptState): "state", int(record.CkptPage): "page", int(record.CkptEdge): "edge",
		int(record.CkptBinding): "binding", int(record.CkptPending): "pending", int(record.CkptRecompute): "recompute",
	}
	for _, c := range []struct {
		marker, name string
		want         map[int]string
	}{
		{"Each operation starts with one kind byte:", "formats.md operation kinds", ops},
		{"## Checkpoint record payloads (internal/record)", "formats.md checkpoint record kinds", ckpt},
	} {
		rows, err := kindTable(page, c.marker)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", c.name, err))
			continue
		}
		problems = append(problems, checkKinds(c.name, rows, c.want)...)
	}
	for _, s := range []string{
		fmt.Sprintf("payload format version: %d when the payload holds a wave operation (kind %d), else %d",
			record.WaveFormatVersion, record.OpWave, record.FormatVersion),
		fmt.Sprintf("u8 version (%d)", record.FormatVersion),
		fmt.Sprintf("uvarint size (at most %d MiB, `MaxPageSize`)", base.MaxPageSize>>20),
		fmt.Sprintf("uvarint size (1 to %d MiB)", base.MaxPageSize>>20),
		fmt.Sprintf("uvarint count `n` (1 to %s)", thousands(record.MaxPendingPerRecord)),
		fmt.Sprintf("⌈size / %d⌉", record.ZeroExpansion),
		fmt.Sprintf("pages declare at most %s times the file's bytes", thousands(record.ZeroExpansion)),
		"u8 edge type (0xFF: every type)",
	} {
		if !strings.Contains(page, s) {
			problems = append(problems, fmt.Sprintf("formats.md does not say %q (the code's value)", s))
		}
	}
	if record.AllEdgeTypes != 0xFF {
		problems = append(problems, fmt.Sprintf("record.AllEdgeTypes is %#x, formats.md says 0xFF", record.AllEdgeTypes))
	}
	return problems
}

func TestFormatKindTablesMatchCode(t *testing.T) {
	for _, p := range formatsKindProblems(readPage(t, "formats.md")) {
		t.Error(p)
	}
}

// TestFormatKindCheckCatchesDrift is the negative control of
// TestFormatKindTablesMatchCode: formats.md with one kind renumbered,
// renamed or missing, or one stated limit changed, is reported.
func TestFormatKindCheckCatchesDrift(t *testing.T) {
	page := readPage(t, "formats.md")
	for name, edit := range map[string][2]string{
		"operation renumbered":   {"| 8 | unbind |", "| 12 | unbind |"},
		"operation renamed":      {"| 3 | free |", "| 3 | delete |"},
		"record kind missing":    {"| 6 | recompute |", "| x | recompute |"},
		"record kinds swapped":   {"| 3 | edge |", "| 4 | edge |"},
		"pending limit changed":  {"(1 to 65,536)", "(1 to 65,535)"},
		"wave version changed":   {"version: 2 when", "version: 3 when"},
		"operation listed twice": {"| 3 | free |", "| 3 | delete | uvarint page ID |\n| 3 | free |"},
	} {
		if !strings.Contains(page, edit[0]) {
			t.Fatalf("%s: formats.md has no %q to change", name, edit[0])
		}
		if p := formatsKindProblems(strings.Replace(page, edit[0], edit[1], 1)); len(p) == 0 {
			t.Errorf("%s: not reported", name)
		} else {
			t.Logf("%s: %q", name, p)
		}
	}
}
