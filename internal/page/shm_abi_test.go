package page

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The shared-memory layout is a public ABI implemented again, without Go,
// by python/mmsb/_layout.py and bindings/c/mmsb_reader.h (docs/formats.md).
// These tests compare their constants with this package's, so that a
// layout change here that forgets the other readers fails.

// shmABI is the Go side: name in the other readers (without prefix) →
// value.
func shmABI() map[string]uint64 {
	return map[string]uint64{
		"MAGIC": shmMagic, "VERSION": shmVersion, "HDR_SIZE": shmHdrSize, "HDR_USED": hHeaderUsed,
		"H_VERSION": hVersion, "H_HDR_SIZE": hHdrSize, "H_GEN": hGen, "H_PID": hPID, "H_START": hStart,
		"H_LSN": hLSN, "H_STATE": hState, "H_HW": hHW, "H_SLOT_CAP": hSlotCap, "H_TABLE_VER": hTableVer,
		"H_CHUNKS": hChunks, "H_MAX_CHUNKS": hMaxChunks, "H_CELL_BITS": hCellBits, "H_SIZE_BITS": hSizeBits,
		"H_LIVE": hLive, "H_STRIDES": hStrides, "H_FUTEX": hFutex, "H_FREE_LSN": hFreeLSN,
		"CELL_BITS": cellBits, "SIZE_BITS": sizeBits, "CHUNK_ENTRY_BYTES": chunkEntryBytes,
		"STATE_LIVE": ShmLive, "STATE_CLOSED": ShmClosed, "STATE_SUPERSEDED": ShmSuperseded,
	}
}

// pythonAliases maps names that differ in python/mmsb/_layout.py.
var pythonAliases = map[string]string{"HDR_SIZE": "HEADER_SIZE", "HDR_USED": "HEADER_USED", "H_HDR_SIZE": "H_HDR_SIZE"}

var (
	pyConst = regexp.MustCompile(`(?m)^([A-Z_]+) = (0x[0-9A-Fa-f]+|\d+)\b`)
	cConst  = regexp.MustCompile(`(?m)^\s*(?:MMSB_READER__([A-Z_]+) = (0x[0-9A-Fa-f]+|\d+),?|#define MMSB_READER__([A-Z_]+) UINT64_C\((0x[0-9A-Fa-f]+)\)|#define MMSB_READER_SHM_FORMAT_(VERSION) (\d+))`)
)

// abiDrift lists the constants of src (found by re; groups pairs of name
// and value) that are missing or differ from want; rename maps Go-side
// names to src names.
func abiDrift(src string, re *regexp.Regexp, want map[string]uint64, rename map[string]string) []string {
	got := map[string]uint64{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		for i := 1; i+1 < len(m); i += 2 {
			if m[i] == "" {
				continue
			}
			v, err := strconv.ParseUint(m[i+1], 0, 64) // base 0: 0x prefixes
			if err == nil {
				got[m[i]] = v
			}
		}
	}
	var drift []string
	for name, v := range want {
		n := name
		if r, ok := rename[name]; ok {
			n = r
		}
		g, ok := got[n]
		switch {
		case !ok:
			drift = append(drift, n+" missing")
		case g != v:
			drift = append(drift, fmt.Sprintf("%s = %#x, Go has %#x", n, g, v))
		}
	}
	return drift
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShmABIMatchesOtherReaders: the Python and C readers use the same
// layout constants and format version as the writer.
func TestShmABIMatchesOtherReaders(t *testing.T) {
	want := shmABI()
	if d := abiDrift(readRepoFile(t, "python/mmsb/_layout.py"), pyConst, want, pythonAliases); len(d) > 0 {
		t.Errorf("python/mmsb/_layout.py disagrees with internal/page: %v", d)
	}
	if d := abiDrift(readRepoFile(t, "bindings/c/mmsb_reader.h"), cConst, want, nil); len(d) > 0 {
		t.Errorf("bindings/c/mmsb_reader.h disagrees with internal/page: %v", d)
	}
}

// TestShmABICheckCatchesDrift is the negative control: a changed value and
// a missing constant are both reported.
func TestShmABICheckCatchesDrift(t *testing.T) {
	src := readRepoFile(t, "python/mmsb/_layout.py")
	changed := strings.Replace(src, "\nH_LSN = 40", "\nH_LSN = 48", 1)
	if changed == src {
		t.Fatal("control input: H_LSN = 40 not found in _layout.py")
	}
	if d := abiDrift(changed, pyConst, shmABI(), pythonAliases); len(d) != 1 || !strings.Contains(d[0], "H_LSN") {
		t.Errorf("changed H_LSN: drift %v, want one H_LSN entry", d)
	}
	gone := strings.Replace(src, "\nVERSION = 1", "\n", 1)
	if d := abiDrift(gone, pyConst, shmABI(), pythonAliases); len(d) != 1 || !strings.Contains(d[0], "VERSION missing") {
		t.Errorf("removed VERSION: drift %v, want VERSION missing", d)
	}
}
