//go:build !linux

package vfs

import "os"

// unnamedFile creates a file in dir and removes its name at once.
func unnamedFile(dir string) (*os.File, error) { return createRemoved(dir) }
