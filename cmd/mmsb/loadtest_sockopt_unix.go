//go:build unix

package main

import "syscall"

// smallReceiveBuffer shrinks a socket's receive buffer, so that a watcher
// that never reads stalls the server's sends after kilobytes instead of
// the tens of megabytes a loopback socket can buffer.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
