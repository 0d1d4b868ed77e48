package bindings

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCReaderRefusesDuplicateIDs: a writer never publishes a page ID in
// two slots, so an ids array holding one (a damaged region) is refused
// with FORMAT (-5) naming the ID, as the Go reader refuses it
// (internal/page TestShmReaderRefusesDuplicateIDs) and the Python reader
// (python/tests/test_reader_damage.py): the index kept the later slot and
// read page 1's bytes for page 2's with no error. The damage is written
// without moving the table version, so the index rebuild that finds it
// is the one a read makes when its slot no longer holds its page.
// Control: both pages read before the damage.
func TestCReaderRefusesDuplicateIDs(t *testing.T) {
	for _, b := range damageBuilds {
		t.Run(b.name, func(t *testing.T) {
			region := filepath.Join(shmDir(t), "region")
			s := newRegionStore(t, region+".building", 1)
			createPage(t, s, 1, 100, 1, 1)
			sl2 := createPage(t, s, 2, 100, 2, 2)
			if err := s.Publish(region, 2); err != nil {
				t.Fatal(err)
			}
			c := startDamageChild(t, b.flags, region, 50*time.Millisecond)
			if got, want := c.command("read 1"), okPage(100, 1); got != want {
				t.Fatalf("control: page 1 = %s, want %s", short(got), short(want))
			}
			if got, want := c.command("read 2"), okPage(100, 2); got != want {
				t.Fatalf("control: page 2 = %s, want %s", short(got), short(want))
			}
			f, err := os.OpenFile(filepath.Join(region, "ids"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], 1) // page 2's slot now says page 1
			if _, err := f.WriteAt(w[:], int64(sl2)*8); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"read 2", "read 1"} {
				got := c.command(cmd)
				if !strings.HasPrefix(got, "error -5 ") || !strings.Contains(got, "page ID 1 ") {
					t.Fatalf("%s of a region whose ids array holds page 1 twice: %q; want FORMAT (-5) naming page ID 1", cmd, short(got))
				}
			}
			// Open builds no index (as in Go): the first read refuses.
			if got := c.command("reopen"); got != "open" {
				t.Fatalf("reopen of the damaged region: %q", got)
			}
			if got := c.command("read 1"); !strings.HasPrefix(got, "error -5 ") || !strings.Contains(got, "page ID 1 ") {
				t.Fatalf("read 1 after a reopen of the damaged region: %q; want FORMAT (-5) naming page ID 1", short(got))
			}
		})
	}
}
