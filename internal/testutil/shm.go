package testutil

import (
	"os"
	"testing"
)

// ShmTempDir makes a directory for shared regions, removed when the test
// ends: under root when root is not "", else on /dev/shm where there is
// one (tmpfs, as shared regions live in production), else in the default
// temporary directory. prefix starts its name.
func ShmTempDir(t testing.TB, root, prefix string) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); root == "" && err == nil && st.IsDir() {
		root = "/dev/shm"
	}
	d, err := os.MkdirTemp(root, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
