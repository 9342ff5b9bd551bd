//go:build unix

package agent

import (
	"errors"
	"net"
	"syscall"
)

// open reports whether the app has neither closed an idle connection nor
// sent anything on it: one look at the socket, which does not wait.
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n <= 0 && errors.Is(err, syscall.EAGAIN)
		return true
	})
	return err == nil && alive
}
