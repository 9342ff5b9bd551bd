//go:build unix

package agent

import (
	"syscall"
)

// peeker looks at a kept connection's socket; made at the connection's
// first look, it costs no allocation at the next ones.
type peeker struct {
	rc    syscall.RawConn
	look  func(fd uintptr) bool
	alive bool
	buf   [1]byte
}

// open reports whether the app has neither closed an idle connection nor
// sent anything on it: one look at the socket, which does not wait.
func (c *appConn) open() bool {
	p := &c.peek
	if p.look == nil {
		sc, ok := c.Conn.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		p.rc = rc
		p.look = func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			p.alive = n <= 0 && err == syscall.EAGAIN
			return true
		}
	}
	p.alive = false
	err := p.rc.Read(p.look)
	return err == nil && p.alive
}
