//go:build unix

package origin

import "syscall"

// alive reports whether an idle connection is still open: no FIN, reset or stray bytes
// from the origin are waiting on it. It does not block. Control, not Read: an idle
// connection may still carry its last response header's deadline, long expired, and
// Read would refuse to look at a socket whose deadline has passed.
func (pc *conn) alive() bool {
	sc, ok := pc.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	var buf [1]byte
	_ = rc.Control(func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	})
	return alive
}
