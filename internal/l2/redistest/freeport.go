package redistest

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Ports handed out by FreePort lie below Linux's default ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999), so neither a bind to port 0 nor an
// outgoing connection is given one by the kernel while a test still means to use it.
const (
	firstPort = 20000
	lastPort  = 32767
)

// FreePort returns a loopback port nothing listens on right now, reserved for t
// until t ends. The reservation is an flock on a file named after the port in a
// shared temporary directory, so test binaries running side by side (go test ./...
// runs packages in parallel) never pick the same port between choosing it and
// binding it, which is what a bind-to-0-then-close port alone cannot promise.
func FreePort(t testing.TB) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "caching-proxy-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	span := lastPort - firstPort + 1
	start := rand.IntN(span)
	for i := range span {
		port := firstPort + (start+i)%span
		f, ok := reserve(t, dir, port)
		if !ok {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil { // in use by something outside our tests
			f.Close()
			continue
		}
		ln.Close()
		t.Cleanup(func() { f.Close() }) // closing the file drops the lock
		return port
	}
	t.Fatalf("no free loopback port in %d-%d", firstPort, lastPort)
	return 0
}

// reserve takes the lock for port, without waiting, or reports that another test holds it.
func reserve(t testing.TB, dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}
