//go:build unix

package origin

import (
	"net"
	"syscall"
)

// prober looks at an idle connection's socket without reading from it. It is made
// once per connection (newProber), so a look allocates nothing; a connection is
// looked at only by the exchange that took it from the pool.
type prober struct {
	rc    syscall.RawConn
	peek  func(fd uintptr)
	buf   [1]byte
	alive bool
}

func newProber(raw net.Conn) prober {
	var p prober
	if sc, ok := raw.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	return p
}

// alive reports whether an idle connection is still open: no FIN, reset or stray bytes
// from the origin are waiting on it. It does not block. Control, not Read: an idle
// connection may still carry its last response header's deadline, long expired, and
// Read would refuse to look at a socket whose deadline has passed.
func (pc *conn) alive() bool {
	p := &pc.probe
	if p.rc == nil {
		return true
	}
	if p.peek == nil { // made here, not in newProber: it must capture the prober where it stays, in pc
		p.peek = func(fd uintptr) {
			_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		}
	}
	p.alive = true
	_ = p.rc.Control(p.peek)
	return p.alive
}
