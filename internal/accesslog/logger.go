package accesslog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBuffer is how many bytes of lines may wait for the writer: at ~250 bytes
// a line, some 4,000 requests, a few seconds of a stalled disk at a busy proxy.
const DefaultBuffer = 1 << 20

// Logger writes lines through a bounded buffer. Log never blocks on the output: one
// goroutine writes what has accumulated in a single write, and a line that does not
// fit the buffer is dropped and counted.
type Logger struct {
	format Format
	max    int
	path   string // "" when the output is not a file Logger opened

	mu      sync.Mutex
	pending []byte
	closed  bool

	wake    chan struct{} // a line is pending (capacity 1)
	urgent  chan struct{} // a quarter of the buffer is pending: write now (capacity 1)
	reopen  chan chan error
	quit    chan struct{}
	done    chan struct{}
	dropped atomic.Int64
	failed  atomic.Int64

	out  io.Writer // owned by the writer goroutine
	pool sync.Pool
}

// Options configure a Logger. Zero values are documented per field.
type Options struct {
	Format Format // line format; the zero value is Text
	Buffer int    // bytes of lines that may wait for the writer; 0 means DefaultBuffer
}

// New returns a Logger writing to w (os.Stdout, say). Close does not close w.
func New(w io.Writer, opt Options) *Logger {
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	l := &Logger{
		format: opt.Format, max: opt.Buffer, out: w,
		wake: make(chan struct{}, 1), urgent: make(chan struct{}, 1), reopen: make(chan chan error), quit: make(chan struct{}), done: make(chan struct{}),
	}
	l.pool.New = func() any { b := make([]byte, 0, 512); return &b }
	go l.run()
	return l
}

// Open returns a Logger appending to the file at path, created if need be. Reopen
// opens the path again, for log rotation.
func Open(path string, opt Options) (*Logger, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := New(f, opt)
	l.path = path
	return l, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return f, nil
}

// Log formats r and queues its line. It never waits for the output; when the buffer
// is full the line is dropped and counted. r is not kept.
func (l *Logger) Log(r *Record) {
	bp := l.pool.Get().(*[]byte)
	line := l.format.Append((*bp)[:0], r)
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		l.dropped.Add(1)
	case len(l.pending)+len(line) > l.max:
		l.mu.Unlock()
		l.dropped.Add(1)
	default:
		l.pending = append(l.pending, line...)
		n := len(l.pending)
		l.mu.Unlock()
		wake := l.wake
		if n >= l.max/4 {
			wake = l.urgent
		}
		select {
		case wake <- struct{}{}:
		default: // the writer is already due to look
		}
	}
	*bp = line
	l.pool.Put(bp)
}

// Dropped reports how many lines were lost: the buffer was full, the write failed,
// or the Logger was closed.
func (l *Logger) Dropped() int64 { return l.dropped.Load() + l.failed.Load() }

// Reopen writes what is pending to the current file, then opens the path again
// (after logrotate renamed it), so no line is lost across the rotation. Lines logged
// after Reopen returns go to the new file. A Logger not opened on a path ignores it.
func (l *Logger) Reopen() error {
	if l.path == "" {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return errors.New("access log: closed")
	}
}

// Close writes every pending line, stops the writer, and closes a file it opened.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	if c, ok := l.out.(io.Closer); ok && l.path != "" {
		return c.Close()
	}
	return nil
}

// run is the writer: it takes everything pending in one swap and writes it in one call.
func (l *Logger) run() {
	defer close(l.done)
	var spare []byte
	flush := func() {
		l.mu.Lock()
		spare, l.pending = l.pending, spare[:0]
		l.mu.Unlock()
		if len(spare) == 0 {
			return
		}
		if _, err := l.out.Write(spare); err != nil {
			l.failed.Add(int64(countLines(spare)))
		}
		if cap(spare) > 4*l.max { // do not keep a buffer grown by one burst forever
			spare = nil
		}
	}
	reopen := func(reply chan error) {
		flush()
		f, err := openFile(l.path)
		if err == nil {
			if c, ok := l.out.(io.Closer); ok {
				c.Close()
			}
			l.out = f
		}
		reply <- err
	}
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	for {
		select {
		case <-l.urgent:
			flush()
		case <-l.wake:
			// Let lines gather for a moment: under load one write carries many
			// lines instead of a write (and a wake-up) per request.
			gather.Reset(flushInterval)
			select {
			case <-gather.C:
				flush()
			case <-l.urgent:
				gather.Stop()
				flush()
			case reply := <-l.reopen:
				gather.Stop()
				reopen(reply)
			case <-l.quit:
				flush()
				return
			}
		case reply := <-l.reopen:
			reopen(reply)
		case <-l.quit:
			flush()
			return
		}
	}
}

// flushInterval is how long lines gather before a write: short enough that a person
// at a terminal sees each request at once, long enough to batch a busy proxy's lines.
const flushInterval = 5 * time.Millisecond

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
