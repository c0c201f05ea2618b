// Package redistest runs a real redis-server (Debian's package) on a free loopback
// port for tests, and stops it when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a real redis-server on a free loopback port, with no persistence,
// that a test can stop and start again on the same port.
type Server struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	args []string // what Restart runs bin with

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// Start starts a redis-server for t and stops it when t ends. Without
// redis-server installed the test fails in CI (CI=true) and is skipped elsewhere.
func Start(t *testing.T) *Server {
	t.Helper()
	return start(t, FreePort(t), nil)
}

// start runs redis-server on port with extra arguments after the usual ones.
func start(t *testing.T, port int, extra []string) *Server {
	t.Helper()
	bin := need(t, "redis-server", "redis-server")
	s := &Server{t: t, bin: bin, port: port, dir: t.TempDir()}
	s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir}, extra...)
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// need returns the path of program, from Debian package pkg. Without it the test
// fails in CI (CI=true) and is skipped elsewhere.
func need(t *testing.T, program, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(program)
	if err != nil {
		msg := program + " is not installed; the shared-tier tests need it (make redis-deps, or apt-get install " + pkg + ")"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// URL is what --redis-url would be.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Port is the port it listens on.
func (s *Server) Port() int { return s.port }

func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Restart runs redis-server (again, on the same port) and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for !Ping(s.Addr()) {
		select {
		case <-s.exited:
			s.t.Fatalf("redis-server exited at start:\n%s", s.out)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("redis-server did not answer PING within 10s:\n%s", s.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills redis-server (no shutdown courtesies: this is a crash) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Ping reports whether a Redis at addr answers PING.
func Ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// syncBuffer collects a subprocess's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Running reports whether the server's process is running.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}
