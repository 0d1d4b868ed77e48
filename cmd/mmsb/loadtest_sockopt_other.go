//go:build !unix

package main

import "syscall"

// smallReceiveBuffer does nothing here: the receive buffer keeps its size.
func smallReceiveBuffer(_, _ string, _ syscall.RawConn) error { return nil }
