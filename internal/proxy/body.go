package proxy

import (
	"io"
	"sync"
)

// fillBody relays an origin body to the client while keeping a copy for the store.
// When the body ends cleanly and within the size limit, done gets the copy; on any
// error, a size overflow, or a length mismatch it gets nil, so nothing partial is
// stored. If the client stops reading early, the rest is read in the background so
// the fill still completes for other requests.
type fillBody struct {
	rc        io.ReadCloser
	buf       []byte
	limit     int64
	want      int64 // Content-Length, or -1
	over      bool
	finished  bool
	done      func(body []byte)
	closeOnce sync.Once
}

func newFillBody(rc io.ReadCloser, contentLength, limit int64, done func([]byte)) *fillBody {
	f := &fillBody{rc: rc, limit: limit, want: contentLength, done: done}
	if contentLength > 0 && contentLength <= limit {
		f.buf = make([]byte, 0, contentLength)
	}
	return f
}

func (f *fillBody) Read(p []byte) (int, error) {
	n, err := f.rc.Read(p)
	f.keep(p[:n])
	switch {
	case err == io.EOF:
		f.finish(true)
	case err != nil:
		f.finish(false)
	}
	return n, err
}

func (f *fillBody) keep(p []byte) {
	if f.over || f.finished || len(p) == 0 {
		return
	}
	if int64(len(f.buf)+len(p)) > f.limit {
		f.over, f.buf = true, nil
		f.finish(false) // too large: release waiters now, keep streaming
		return
	}
	f.buf = append(f.buf, p...)
}

func (f *fillBody) finish(ok bool) {
	if f.finished {
		return
	}
	f.finished = true
	if !ok || f.over || (f.want >= 0 && int64(len(f.buf)) != f.want) {
		f.done(nil)
		return
	}
	if f.buf == nil {
		f.buf = []byte{}
	}
	f.done(f.buf)
}

// Close ends the relay. A fill that has not finished keeps reading in the background.
func (f *fillBody) Close() error {
	f.closeOnce.Do(func() {
		if f.finished {
			f.rc.Close()
			return
		}
		go func() {
			buf := make([]byte, 32<<10)
			for !f.finished {
				if _, err := f.Read(buf); err != nil {
					break
				}
			}
			f.rc.Close()
		}()
	})
	return nil
}
