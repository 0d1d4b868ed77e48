package vfs_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mmsb-go/mmsb/vfs"
)

// Give a file a copy of its own before changing it in place: a backup made
// with `cp -al` shares it through a hard link, and the truncation below
// would otherwise cut the backup too. A file with no other link is left as
// it is.
func ExampleUnshare() {
	dir, err := os.MkdirTemp("", "unshare")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	seg := filepath.Join(dir, "00000000000000000001.log")
	backup := filepath.Join(dir, "backup.log")
	if err := os.WriteFile(seg, []byte("header and records"), 0o600); err != nil {
		panic(err)
	}
	if err := os.Link(seg, backup); err != nil { // what `cp -al` makes
		panic(err)
	}
	copied, err := vfs.Unshare(vfs.Default, seg, seg+".del")
	if err != nil {
		panic(err)
	}
	if err := os.Truncate(seg, 6); err != nil { // the change made in place
		panic(err)
	}
	again, _ := vfs.Unshare(vfs.Default, seg, seg+".del")
	b, _ := os.ReadFile(backup)
	fmt.Println(copied, again, string(b))
	// Output:
	// true false header and records
}
