package origin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxHeaderBytes bounds a response header (and its interim responses), as net/http's
// Transport does by default: past it the response is refused as malformed.
const maxHeaderBytes = 10 << 20

// conn is one connection to an origin, owned by one exchange at a time or idle in the pool.
type conn struct {
	nc      net.Conn // what is read and written: TLS over the TCP connection for https
	lr      limitReader
	br      *bufio.Reader
	bw      *bufio.Writer
	tls     *tls.ConnectionState
	key     string
	reused  bool        // it has carried an exchange before this one
	timer   *time.Timer // closes it once idle for IdleConnTimeout
	stopped atomic.Bool // abort ran: deadlines are in the past
	once    sync.Once
	probe   prober // alive's look at the idle socket
}

// limitReader is what the connection's buffered reader reads from. While a response
// header is read it counts what the header may still take, under the deadline the
// exchange set; once the body starts it is unlimited, and each read from the socket
// gets a deadline of its own, the body timeout from now (a silence longer than that
// ends the body), or none. A body already buffered with its header never reaches
// here, so a small response costs no deadline changes at all: the header's deadline
// stays armed on the idle connection and the next exchange replaces it.
type limitReader struct {
	pc   *conn
	n    int64
	body bool          // the header has been read
	idle time.Duration // the body timeout; 0 means none
	open bool          // body without a timeout: the header's deadline is lifted
}

var errHeaderTooLarge = fmt.Errorf("origin: server response headers exceeded %d bytes; aborted", maxHeaderBytes)

// ErrBodyTimeout is what a body read returns when the origin stayed silent for
// longer than Options.BodyTimeout. It is a net.Error whose Timeout is true.
var ErrBodyTimeout error = timeoutError{"origin: response body stalled past the body timeout"}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	nc := l.pc.nc
	if l.body {
		switch {
		case l.idle > 0:
			_ = nc.SetReadDeadline(time.Now().Add(l.idle))
		case !l.open:
			_ = nc.SetReadDeadline(time.Time{})
			l.open = true
		}
		if l.pc.aborted() { // abort ran while the deadline moved: keep it in the past
			_ = nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	n, err := nc.Read(p)
	l.n -= int64(n)
	if l.body && err != nil && isTimeout(err) && !l.pc.aborted() {
		err = ErrBodyTimeout
	}
	return n, err
}

// abort makes a blocked Read or Write on the connection return at once; the exchange
// then fails and the connection is closed.
func (pc *conn) abort() {
	pc.stopped.Store(true)
	_ = pc.nc.SetDeadline(time.Unix(1, 0))
}

func (pc *conn) aborted() bool { return pc.stopped.Load() }

func (pc *conn) close() {
	pc.once.Do(func() {
		if pc.timer != nil {
			pc.timer.Stop()
		}
		pc.nc.Close()
	})
}

// get returns an idle connection to key's origin that is still open, or a new one.
func (c *Client) get(ctx context.Context, req *http.Request, key string, fresh bool) (*conn, error) {
	for !fresh {
		c.mu.Lock()
		cs := c.idle[key]
		if len(cs) == 0 {
			c.mu.Unlock()
			break
		}
		pc := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		c.idle[key] = cs[:len(cs)-1]
		c.mu.Unlock()
		if !pc.timer.Stop() {
			continue // its idle time ran out: the timer is closing it
		}
		// A kept connection the origin has closed, or written to unasked, is not used:
		// net/http's Transport keeps a read pending on idle connections to see this,
		// here one non-blocking peek of the socket does.
		if !pc.alive() {
			pc.close()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	return c.dial(ctx, req.URL.Scheme, key, req.URL.Hostname())
}

// put returns a connection whose exchange ended cleanly to the pool.
func (c *Client) put(pc *conn) {
	c.mu.Lock()
	cs := c.idle[pc.key]
	if len(cs) >= c.opt.MaxIdleConnsPerHost {
		c.mu.Unlock()
		pc.close()
		return
	}
	c.idle[pc.key] = append(cs, pc)
	if pc.timer == nil {
		pc.timer = time.AfterFunc(c.opt.IdleConnTimeout, func() { c.expire(pc) })
	} else {
		pc.timer.Reset(c.opt.IdleConnTimeout)
	}
	c.mu.Unlock()
}

// expire closes a connection that stayed idle too long.
func (c *Client) expire(pc *conn) {
	c.mu.Lock()
	cs := c.idle[pc.key]
	for i, x := range cs {
		if x == pc {
			c.idle[pc.key] = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	pc.close()
}

// dial opens a connection to addr (host:port), with TLS for https offering only HTTP/1.1.
func (c *Client) dial(ctx context.Context, scheme, key, hostname string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.ConnectTimeout)
	defer cancel()
	addr := key[len(scheme)+len("://"):]
	raw, err := c.opt.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	pc := &conn{nc: raw, key: key, probe: newProber(raw)} // the probe looks at the TCP socket under any TLS
	if scheme == "https" {
		cfg := c.opt.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = hostname
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		st := tc.ConnectionState()
		pc.nc, pc.tls = tc, &st
	}
	pc.lr = limitReader{pc: pc, n: maxHeaderBytes}
	pc.br = bufio.NewReaderSize(&pc.lr, 4<<10)
	pc.bw = bufio.NewWriterSize(pc.nc, 4<<10)
	return pc, nil
}

// headerStarts arms the response header's deadline and limit for a new exchange.
func (pc *conn) headerStarts(timeout time.Duration) {
	_ = pc.nc.SetReadDeadline(time.Now().Add(timeout))
	pc.lr = limitReader{pc: pc, n: maxHeaderBytes}
}

// bodyStarted lifts the header limit once the header has been read; from here each
// read from the socket has the body timeout idle (0: none) as its deadline.
func (pc *conn) bodyStarted(idle time.Duration) {
	pc.lr.n, pc.lr.body, pc.lr.idle = math.MaxInt64, true, idle
}

// closedError: the connection ended before any byte of a response arrived.
type closedError struct{ err error }

func (e closedError) Error() string {
	return "origin: connection closed before a response arrived: " + e.err.Error()
}
func (e closedError) Unwrap() error { return e.err }

// writeError: the request could not be written.
type writeError struct{ err error }

func (e writeError) Error() string { return "origin: writing the request: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// isClosedIdle reports whether an exchange failed before the origin could have acted on
// it: the request was not written, or the connection closed with nothing read.
func isClosedIdle(err error) bool {
	var ce closedError
	var we writeError
	return (errors.As(err, &ce) || errors.As(err, &we)) && !isTimeout(err)
}

type timeoutError struct{ msg string }

func (e timeoutError) Error() string   { return e.msg }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

var errHeaderTimeout error = timeoutError{"origin: timeout awaiting response headers"}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
