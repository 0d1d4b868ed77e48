package writertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriterRefusesAnotherProgramsDirectory: writer.cpp refuses, with
// one line and status 1 and nothing written, a directory that holds files
// no bus makes and no bus, in mmsb serve --dir's words (docs/cli.md,
// "Data directories"). It made LOCK, wal/ and checkpoints/ beside the
// user's t.cpp, exit 0. The controls: a new directory, an empty one, one
// holding only an empty wal/ (a first Open that stopped early, which serve
// takes too), and the writer's own bus with a file beside it.
func TestWriterRefusesAnotherProgramsDirectory(t *testing.T) {
	writer := buildWriter(t)
	own := filepath.Join(t.TempDir(), "own")
	if out, status := exitStatus(t, exec.Command(writer, own)); status != 0 {
		t.Fatalf("cpp-writer on a new directory: status %d; output:\n%s", status, out)
	}
	for _, tc := range []struct {
		name  string
		files []string // made before the run ("/" at the end: a directory)
		dir   string   // instead of a new one
		want  string   // "": the run goes on
	}{
		{name: "new"},
		{name: "empty", files: []string{}},
		{name: "only wal", files: []string{"wal/"}},
		// What a fresh disk holds is nobody's data, as mmsb decides
		// (mountMetadata): the writer refused a macOS or freedesktop
		// disk's .DS_Store and trash as another program's files.
		{name: "a fresh disk's own files", files: []string{".DS_Store", ".Trashes/", ".Trash-1000/", "wal/", "wal/lost+found/"}},
		{name: "a program's files", files: []string{"t", "t.cpp"}, want: "it holds t, t.cpp, and no bus"},
		{name: "a file in wal", files: []string{"wal/", "wal/notes"}, want: "it holds wal/notes, and no bus"},
		{name: "four files", files: []string{"a", "b", "c", "d"}, want: "it holds a, b, c and 1 more, and no bus"},
		{name: "own bus and a file", dir: own, files: []string{"notes.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "x")
			}
			if tc.files != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.files {
				var err error
				if d, ok := strings.CutSuffix(f, "/"); ok {
					err = os.Mkdir(filepath.Join(dir, d), 0o755)
				} else {
					err = os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			before := names(t, dir)
			out, status := exitStatus(t, exec.Command(writer, dir))
			if tc.want == "" {
				if status != 0 {
					t.Fatalf("cpp-writer %s: status %d, want 0; output:\n%s", dir, status, out)
				}
				return
			}
			want := "cpp-writer: not an MMSB data directory: " + dir + ": " + tc.want +
				": a bus is made only in a new or empty directory (give one, e.g. a subdirectory); nothing was changed\n"
			if status != 1 || out != want {
				t.Fatalf("cpp-writer %s: status %d, output:\n%s\nwant status 1 and:\n%s", dir, status, out, want)
			}
			if after := names(t, dir); !slices.Equal(after, before) {
				t.Fatalf("cpp-writer %s changed the directory: %q, was %q", dir, after, before)
			}
		})
	}
}

// names lists the files under dir (relative, sorted), none when it is absent.
func names(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		list = append(list, rel)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return list
}
