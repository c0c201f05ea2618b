package l2_test

import (
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisClient is a plain client for writing into Redis behind the tier's back.
func redisClient(t *testing.T, s *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// link is a TCP forwarder in front of Redis that a test can cut, so the tier
// loses Redis while Redis keeps its data (a partition rather than a crash).
type link struct {
	t     *testing.T
	to    string
	port  int
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newLink(t *testing.T, to string) *link {
	l := &link{t: t, to: to, port: redistest.FreePort(t)}
	l.restore()
	t.Cleanup(l.cut)
	return l
}

func (l *link) URL() string {
	return "redis://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port)) + "/0"
}

// restore listens again on the same port.
func (l *link) restore() {
	l.t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port)))
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", l.to)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, r)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(r, c); r.Close() }()
			go func() { _, _ = io.Copy(c, r); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection through it.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}
