package replicate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestFinishSetAsideRefusesForeignPart: a set-aside mark in the node's
// directory, and a manifest naming its token, written by someone else
// (a token is no secret to whoever can write the data directory), name
// as the part of an interrupted set-aside a directory that is not one:
// one holding other files, one whose directory it was begun beside is
// still there (not the node's), one of another user, one whose name is
// not a part's. finishSetAside refuses each with ErrSetAsidePartRefused
// and moves nothing. Until 2026-12-07 the first three were moved beside
// the node's directory and set aside as its bus's.
func TestFinishSetAsideRefusesForeignPart(t *testing.T) {
	const token = "FORGED"
	for _, tc := range []struct {
		name string
		// make fills elsewhere, returning the path the mark names.
		make func(t *testing.T, elsewhere string) string
	}{
		{"holds other files", func(t *testing.T, elsewhere string) string {
			part := filepath.Join(elsewhere, "important.diverged-1.part")
			mkdirs(t, filepath.Join(part, "wal"))
			writeFile(t, filepath.Join(part, "notes.txt"), "mine")
			return part
		}},
		{"its directory still there", func(t *testing.T, elsewhere string) string {
			mkdirs(t, filepath.Join(elsewhere, "important", "wal"))
			part := filepath.Join(elsewhere, "important.diverged-1.part")
			mkdirs(t, filepath.Join(part, "wal"))
			return part
		}},
		{"another user's", func(t *testing.T, elsewhere string) string {
			if os.Geteuid() != 0 {
				t.Skip("giving a directory to another user needs root")
			}
			part := filepath.Join(elsewhere, "important.diverged-1.part")
			mkdirs(t, filepath.Join(part, "wal"))
			if err := os.Lchown(part, 54321, 54321); err != nil {
				t.Skipf("chown: %v", err)
			}
			return part
		}},
		{"not a part's name", func(t *testing.T, elsewhere string) string {
			part := filepath.Join(elsewhere, "important")
			mkdirs(t, filepath.Join(part, "wal"))
			return part
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir, elsewhere := filepath.Join(root, "data", "bus"), filepath.Join(root, "home")
			mkdirs(t, filepath.Join(dir, "checkpoints"))
			part := tc.make(t, elsewhere)
			writeFile(t, filepath.Join(part, setAsideManifest), "checkpoints 1 2 3 "+token+"\nwal 1 2 3 "+token+"\n")
			writeFile(t, filepath.Join(dir, "checkpoints", SetAsideMarkFile), token+"\n"+part)
			n := &Node{cfg: NodeConfig{ID: "a", Dir: dir, Logf: t.Logf}}
			err := n.finishSetAside()
			if !errors.Is(err, ErrSetAsidePartRefused) {
				t.Fatalf("finishing with a mark naming %s (%s): %v, want ErrSetAsidePartRefused", part, tc.name, err)
			}
			t.Log(err)
			if _, err := os.Stat(filepath.Join(part, setAsideManifest)); err != nil {
				t.Fatalf("%s (%s) was moved: %v", part, tc.name, err)
			}
			ents, err := os.ReadDir(filepath.Dir(dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 {
				t.Fatalf("%s holds %d entries, want %s alone: something was moved beside it", filepath.Dir(dir), len(ents), dir)
			}
		})
	}
}

func mkdirs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
