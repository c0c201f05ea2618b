package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// relay is the client's side of a forwarded response. ReverseProxy writes each read
// from the origin to it, and it flushes each write at once, whatever the
// Content-Length: a client's first byte never waits for a slow origin's last.
// ReverseProxy's own FlushInterval -1 would do that too, but it first sends the
// header on its own, from a timer goroutine: an extra write(2) and wake-up per
// response. Here a small response leaves in one write, header and body together.
type relay struct{ http.ResponseWriter }

func (r relay) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	if err == nil {
		if f, ok := r.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		} else {
			_ = http.NewResponseController(r.ResponseWriter).Flush()
		}
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (ReverseProxy hijacks it
// for protocol upgrades).
func (r relay) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ReverseProxy copies a body through one buffer from its BufferPool, which cannot see
// the response: every body goes in 32 KiB reads and writes, so a 100 KiB one takes
// four read(2) from the origin's socket and four write(2) to the client's. A body of
// a known length over that is left to relayBody instead, which sizes the buffer by
// the length, up to relayBufferMax: one read and one write for 100 KiB (a fifth less
// proxy CPU and 6-10% less origin CPU at 100 KiB; docs/performance.md). Smaller
// bodies keep ReverseProxy's copy and its 32 KiB pool, as a larger buffer for all
// costs the small ones an allocation whenever the pool is empty.
const (
	relayBufferMin = 32 << 10  // ReverseProxy's buffer: bodies up to it stay with ReverseProxy
	relayBufferMax = 128 << 10 // the largest buffer relayBody uses
)

// holdBody takes resp's body from ReverseProxy, which then sends the header and an
// empty copy, for relayBody to send after it: for a response of a known length over
// relayBufferMin, without trailers (which ReverseProxy copies after the body), that
// is not a protocol switch or an answer to HEAD.
func holdBody(resp *http.Response, x *exchange) {
	if resp.ContentLength <= relayBufferMin || len(resp.Trailer) > 0 ||
		resp.StatusCode == http.StatusSwitchingProtocols || resp.Request.Method == http.MethodHead {
		return
	}
	x.body, x.bodyLength = resp.Body, resp.ContentLength
	resp.Body = http.NoBody
}

// relayBody sends the body holdBody took, through relay, as ReverseProxy would have:
// a read or write error aborts the response (http.ErrAbortHandler, so the server
// closes the connection rather than end a short body as if it were whole).
func (h *Handler) relayBody(w http.ResponseWriter, r *http.Request, x *exchange) {
	body := x.body
	x.body = nil
	defer body.Close()
	var err error
	if wt, ok := body.(io.WriterTo); ok { // a body in memory: one write
		_, err = wt.WriteTo(relay{w})
	} else {
		buf := relayBuffers.get(x.bodyLength)
		err = copyBody(relay{w}, body, *buf)
		relayBuffers.put(buf)
	}
	if err == nil {
		return
	}
	var re readError
	if errors.As(err, &re) && !errors.Is(err, context.Canceled) {
		h.log.Warn("origin body ended early", "method", r.Method, "path", r.URL.Path, "client", clientIP(r), "err", re.error)
	}
	if r.Context().Value(http.ServerContextKey) != nil { // under a server, which recovers it
		panic(http.ErrAbortHandler)
	}
}

// readError marks an error copyBody got from the body, not from the client.
type readError struct{ error }

func (e readError) Unwrap() error { return e.error }

// copyBody writes body to w through buf, each read as soon as it arrives.
func copyBody(w io.Writer, body io.Reader, buf []byte) error {
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return readError{rerr}
		}
	}
}

// sizedBuffers lends relayBody its buffers: one pool per size (64 KiB and
// relayBufferMax), the smallest that holds the body.
type sizedBuffers struct{ mid, max sync.Pool }

var relayBuffers sizedBuffers

func (s *sizedBuffers) pool(length int64) (*sync.Pool, int) {
	if length <= relayBufferMax/2 {
		return &s.mid, relayBufferMax / 2
	}
	return &s.max, relayBufferMax
}

func (s *sizedBuffers) get(length int64) *[]byte {
	p, size := s.pool(length)
	if b, ok := p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, size)
	return &b
}

func (s *sizedBuffers) put(b *[]byte) {
	p, _ := s.pool(int64(len(*b)))
	p.Put(b)
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers instead of one new per response.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, relayBufferMin)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
