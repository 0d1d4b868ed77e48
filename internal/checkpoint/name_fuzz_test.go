package checkpoint

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// FuzzParseName: ParseName and IsTempName never panic, a name ParseName
// accepts is exactly FileName of the LSN it returns (retention and log
// trimming go by that LSN, so a second spelling of one checkpoint's name,
// say with a sign or a shorter number, would be counted twice), and
// IsTempName accepts exactly the temporary names of those. The names of
// the smallest and largest LSN are seeds and must parse.
func FuzzParseName(f *testing.F) {
	lsns := []base.LSN{0, 77, 1<<64 - 1}
	for _, lsn := range lsns {
		f.Add(FileName(lsn))
		f.Add(tempName(lsn))
	}
	for _, s := range []string{"checkpoint-18446744073709551616.ckpt", "checkpoint-+0000000000000000077.ckpt",
		"checkpoint-0000000000000000077.ckpt", "checkpoint-00000000000000000077.ckpt.tmp.tmp", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		lsn, ok := ParseName(name)
		if ok && FileName(lsn) != name {
			t.Fatalf("ParseName(%q) = %d, whose name is %q", name, lsn, FileName(lsn))
		}
		if stem, cut := strings.CutSuffix(name, ".tmp"); IsTempName(name) {
			if tl, tok := ParseName(stem); !tok || tempName(tl) != name {
				t.Fatalf("IsTempName(%q) accepted a name that is no checkpoint's temporary name", name)
			}
		} else if cut {
			if _, tok := ParseName(stem); tok {
				t.Fatalf("IsTempName(%q) refused the temporary name of %q", name, stem)
			}
		}
		for _, want := range lsns {
			if name == FileName(want) && (!ok || lsn != want) {
				t.Fatalf("ParseName(%q) = %d, %v; want %d, true", name, lsn, ok, want)
			}
			if name == tempName(want) && !IsTempName(name) {
				t.Fatalf("IsTempName(%q) refused", name)
			}
		}
	})
}
