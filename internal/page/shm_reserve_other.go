//go:build !linux

package page

import "os"

// reserveFile does nothing where there is no fallocate (see the Linux
// version).
func reserveFile(*os.File, int64, int64) error { return nil }
