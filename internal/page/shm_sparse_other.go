//go:build !linux

package page

import "errors"

// onTmpfs is false off Linux: no check of allocated blocks
// (checkSlotsBacked).
func onTmpfs(int) bool { return false }

// allocatedAt is not used off Linux (onTmpfs is false).
func allocatedAt(int, string) (int64, error) {
	return 0, errors.New("page: allocated blocks are checked on Linux only")
}
