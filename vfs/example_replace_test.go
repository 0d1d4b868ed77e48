package vfs_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mmsb-go/mmsb/vfs"
)

// Replace a small file crash safely: the new bytes go to a temporary
// name, are fsynced and renamed over the old file, and the directory is
// fsynced. A crash leaves the old file or the new one, never a part.
func ExampleReplaceFile() {
	dir, err := os.MkdirTemp("", "replace")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "settings")
	if err := os.WriteFile(name, []byte("old"), 0o600); err != nil {
		panic(err)
	}
	replaced, err := vfs.ReplaceFile(vfs.Default, name, name+".tmp", func(f vfs.File) error {
		_, err := io.WriteString(f, "new")
		return err
	})
	if err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(name)
	_, statErr := os.Stat(name + ".tmp")
	fmt.Println(replaced, string(b), os.IsNotExist(statErr))
	// Output:
	// true new true
}
