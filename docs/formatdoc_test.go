package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// The byte tables of formats.md, tlog.md and checkpoint.md, read from the
// pages themselves (not transcribed): every row's offset and size is
// checked against the code's layout constants, and the rows must tile the
// structure (each field starts where the one before ended). The packages'
// formatdoc_test.go files check the layouts against the encoders and
// decoders; this test checks that the tables on the pages still say what
// those tests assume.

// docRow is one row of a byte table: offset, size (0 when not a number:
// "…", "varint") and field text.
type docRow struct {
	off, size int
	field     string
}

var tableRowRE = regexp.MustCompile(`^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|`)

// byteTable returns the rows of the first table after the line that
// contains marker.
func byteTable(page, marker string) ([]docRow, error) {
	i := strings.Index(page, marker)
	if i < 0 {
		return nil, fmt.Errorf("no %q", marker)
	}
	var rows []docRow
	inTable := false
	for _, line := range strings.Split(page[i:], "\n")[1:] {
		switch {
		case strings.HasPrefix(line, "|"):
			inTable = true
			m := tableRowRE.FindStringSubmatch(line)
			if m == nil {
				continue // the header and separator rows
			}
			off, _ := strconv.Atoi(m[1])
			size, _ := strconv.Atoi(m[2]) // 0 for "…" or "n"
			rows = append(rows, docRow{off: off, size: size, field: m[3]})
		case inTable:
			return rows, nil
		}
	}
	return rows, nil
}

// checkTable compares rows with want (field prefix → offset and size) and
// checks that the rows tile the structure. It returns every difference.
func checkTable(name string, rows []docRow, want []docRow) []string {
	var problems []string
	if len(rows) == 0 {
		return []string{name + ": no table rows found"}
	}
	for k, r := range rows[1:] {
		prev := rows[k]
		if prev.size > 0 && prev.off+prev.size != r.off {
			problems = append(problems, fmt.Sprintf("%s: %q at %d+%d does not end where %q starts (%d)", name, prev.field, prev.off, prev.size, r.field, r.off))
		}
	}
	for _, w := range want {
		found := false
		for _, r := range rows {
			if strings.HasPrefix(strings.ToLower(strings.Trim(r.field, "`")), strings.ToLower(w.field)) {
				found = true
				if r.off != w.off || (w.size > 0 && r.size != w.size) {
					problems = append(problems, fmt.Sprintf("%s: %q at offset %d size %d, the code has %d size %d", name, r.field, r.off, r.size, w.off, w.size))
				}
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s: no row for %q", name, w.field))
		}
	}
	return problems
}

// pyLayout reads the NAME = value constants of python/mmsb/_layout.py, the
// shared-memory layout that TestShmABIMatchesOtherReaders (internal/page)
// keeps equal to the Go writer's and the C reader's.
func pyLayout(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "python", "mmsb", "_layout.py"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+) = (0x[0-9A-Fa-f]+|\d+)\b`).FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseInt(m[2], 0, 64)
		if err == nil {
			out[m[1]] = int(v)
		}
	}
	return out
}

func readPage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shmHeaderWant is the code's shared header layout, field by field.
func shmHeaderWant(l map[string]int) []docRow {
	return []docRow{
		{l["H_MAGIC"], 8, "magic"}, {l["H_VERSION"], 4, "format version"}, {l["H_HDR_SIZE"], 4, "header size"},
		{l["H_GEN"], 8, "generation"}, {l["H_PID"], 8, "writer PID"}, {l["H_START"], 8, "writer process start"},
		{l["H_LSN"], 8, "committed LSN"}, {l["H_STATE"], 8, "state"}, {l["H_HW"], 8, "slots ever used"},
		{l["H_SLOT_CAP"], 8, "slot capacity"}, {l["H_TABLE_VER"], 8, "table version"},
		{l["H_CHUNKS"], 8, "chunk-table entries in use"}, {l["H_MAX_CHUNKS"], 8, "chunk-table capacity"},
		{l["H_CELL_BITS"], 4, "cell bits"}, {l["H_SIZE_BITS"], 4, "size bits"}, {l["H_LIVE"], 8, "live pages"},
		{l["H_STRIDES"], 4, "slot strides"}, {l["H_FUTEX"], 4, "futex word"}, {l["H_FREE_LSN"], 8, "free word"},
	}
}

func TestFormatTablesMatchCode(t *testing.T) {
	var problems []string
	check := func(page, marker, name string, want []docRow) {
		rows, err := byteTable(readPage(t, page), marker)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			return
		}
		problems = append(problems, checkTable(name, rows, want)...)
	}

	l := pyLayout(t)
	check("formats.md", "`header` (4,096 bytes):", "formats.md shared header", shmHeaderWant(l))

	check("tlog.md", "### Segment header (24 bytes)", "tlog.md segment header", []docRow{
		{0, 8, "magic"}, {8, 4, "version"}, {12, 8, "first LSN"}, {tlog.SegmentHeaderSize - 4, 4, "header CRC"},
	})
	check("tlog.md", "### Record frame (20-byte header + payload)", "tlog.md record frame", []docRow{
		{0, 4, "length"}, {4, 4, "CRC"}, {8, 8, "first LSN"}, {16, 4, "count"}, {tlog.FrameHeaderSize, 0, "payload"},
	})
	check("checkpoint.md", "## Header (24 bytes)", "checkpoint.md header", []docRow{
		{0, 8, "magic"}, {8, 4, "version"}, {12, 8, "LSN"}, {checkpoint.HeaderSize - 4, 4, "header CRC"},
	})
	check("checkpoint.md", "## Record frame (9-byte header + payload)", "checkpoint.md record frame", []docRow{
		{0, 4, "length"}, {4, 4, "CRC"}, {8, 1, "kind"}, {checkpoint.FrameHeaderSize, 0, "payload"},
	})
	check("checkpoint.md", "## Trailer (a frame of kind 0xFF, 21 bytes in all)", "checkpoint.md trailer", []docRow{
		{0, 8, "record count"}, {8, 4, "file CRC"},
	})
	// The log-mode file has no offset constants: these are the offsets
	// tlog's encodeMode writes, which TestModeFileMatchesFormatsDoc
	// (internal/tlog) checks byte for byte; here the table of the doc is
	// held to them (a row moved in the doc alone passed both before).
	check("formats.md", "## Log-mode file (internal/tlog)", "formats.md log-mode file", []docRow{
		{0, 8, "magic"}, {8, 1, "version"}, {9, 1, "mode"}, {10, 2, "zero"}, {12, 4, "CRC32C"},
	})
	for _, p := range problems {
		t.Error(p)
	}
	// Sizes the headings state.
	for _, c := range []struct {
		page, heading string
		n             int
	}{
		{"tlog.md", fmt.Sprintf("### Segment header (%d bytes)", tlog.SegmentHeaderSize), 0},
		{"tlog.md", fmt.Sprintf("### Record frame (%d-byte header + payload)", tlog.FrameHeaderSize), 0},
		{"checkpoint.md", fmt.Sprintf("## Header (%d bytes)", checkpoint.HeaderSize), 0},
		{"checkpoint.md", fmt.Sprintf("## Record frame (%d-byte header + payload)", checkpoint.FrameHeaderSize), 0},
		{"checkpoint.md", fmt.Sprintf("## Trailer (a frame of kind %#X, %d bytes in all)", checkpoint.KindTrailer, checkpoint.FrameHeaderSize+checkpoint.TrailerPayloadSize), 0},
		{"formats.md", fmt.Sprintf("`header` (%s bytes):", thousands(l["HEADER_SIZE"])), 0},
	} {
		if !strings.Contains(readPage(t, c.page), strings.Replace(c.heading, "0XFF", "0xFF", 1)) {
			t.Errorf("%s has no %q: the code's sizes", c.page, c.heading)
		}
	}
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestFormatTableCheckCatchesDrift is the negative control of
// TestFormatTablesMatchCode: a table whose row moved, whose rows leave a
// gap, or that lacks a field is reported; the right table is not.
func TestFormatTableCheckCatchesDrift(t *testing.T) {
	want := []docRow{{0, 4, "length"}, {4, 4, "CRC"}, {8, 8, "first LSN"}, {16, 4, "count"}}
	good := "### Frame\n\n| Offset | Size | Field |\n|---:|---:|---|\n| 0 | 4 | length |\n| 4 | 4 | CRC |\n| 8 | 8 | first LSN |\n| 16 | 4 | count |\n| 20 | n | payload |\n\nafter\n"
	rows, err := byteTable(good, "### Frame")
	if err != nil || len(rows) != 5 {
		t.Fatalf("good table: %d rows, %v", len(rows), err)
	}
	if p := checkTable("good", rows, want); len(p) != 0 {
		t.Errorf("the right table is reported: %q", p)
	}
	for name, page := range map[string]string{
		"count moved":  strings.Replace(good, "| 16 | 4 | count |", "| 12 | 4 | count |", 1),
		"gap":          strings.Replace(good, "| 8 | 8 | first LSN |", "| 8 | 4 | first LSN |", 1),
		"field gone":   strings.Replace(good, "| 4 | 4 | CRC |\n", "", 1),
		"size changed": strings.Replace(good, "| 0 | 4 | length |", "| 0 | 8 | length |", 1),
	} {
		rows, err := byteTable(page, "### Frame")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p := checkTable(name, rows, want); len(p) == 0 {
			t.Errorf("%s: not reported", name)
		} else {
			t.Logf("%s: %q", name, p)
		}
	}
}
