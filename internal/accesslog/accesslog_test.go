package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func sample() *Record {
	return &Record{
		Time:         time.Date(2026, 12, 2, 6, 4, 34, 123_000_000, time.UTC),
		Client:       "127.0.0.1",
		Method:       "GET",
		Target:       "/products/1?x=\"y\"",
		Proto:        "HTTP/1.1",
		Status:       200,
		Bytes:        1204,
		Duration:     12_404 * time.Microsecond,
		Cache:        "miss",
		Detail:       "private",
		Tier:         "origin",
		OriginStatus: 200,
		OriginTime:   12_101 * time.Microsecond,
		UserAgent:    "curl/8.5.0",
		Referer:      "https://example.com/",
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
	}
}

// TestGolden pins one line per format for the same record.
func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		f    Format
		want string
	}{
		{JSON, `{"time":"2026-12-02T06:04:34.123Z","client":"127.0.0.1","method":"GET","target":"/products/1?x=\"y\"","proto":"HTTP/1.1","status":200,"bytes":1204,"duration_ms":12.40,"cache":"miss","detail":"private","tier":"origin","origin_status":200,"origin_ms":12.10,"user_agent":"curl/8.5.0","referer":"https://example.com/","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}` + "\n"},
		{Combined, `127.0.0.1 - - [02/Dec/2026:06:04:34 +0000] "GET /products/1?x=\x22y\x22 HTTP/1.1" 200 1204 "https://example.com/" "curl/8.5.0" cache=miss tier=origin detail=private stored=false origin_status=200 origin_ms=12.10 duration_ms=12.40 trace_id=4bf92f3577b34da6a3ce929d0e0e4736` + "\n"},
		{Text, `06:04:34.123 127.0.0.1 GET /products/1?x=\x22y\x22 200 miss (private) 1204B 12.40ms origin 200 in 12.10ms trace=4bf92f3577b34da6a3ce929d0e0e4736` + "\n"},
	} {
		if got := string(tt.f.Append(nil, sample())); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.f, got, tt.want)
		}
	}
}

func TestTextHit(t *testing.T) {
	r := &Record{Time: sample().Time, Client: "::1", Method: "GET", Target: "/a", Status: 200, Bytes: 5, Duration: 80 * time.Microsecond, Cache: "hit", Tier: "local"}
	if got, want := string(Text.Append(nil, r)), "06:04:34.123 ::1 GET /a 200 hit local 5B 0.08ms\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	r.Stored, r.Cache, r.Tier, r.OriginStatus, r.OriginTime = true, "miss", "origin", 200, time.Millisecond
	if got, want := string(Text.Append(nil, r)), "06:04:34.123 ::1 GET /a 200 miss stored 5B 0.08ms origin 200 in 1.00ms\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJSONParses checks the JSON line is valid JSON with the values given, including
// characters that need escaping and invalid UTF-8.
func TestJSONParses(t *testing.T) {
	r := sample()
	r.UserAgent = "evil\"\\\n\x00\x7f\xff ünï"
	r.Stored = true
	var got map[string]any
	line := JSON.Append(nil, r)
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for k, want := range map[string]any{
		"status": 200.0, "bytes": 1204.0, "cache": "miss", "detail": "private", "stored": true, "tier": "origin",
		"origin_status": 200.0, "user_agent": "evil\"\\\n\x00\x7f\ufffd ünï", "target": `/products/1?x="y"`,
		"time": "2026-12-02T06:04:34.123Z", "duration_ms": 12.4, "trace_id": r.TraceID,
	} {
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
	empty := JSON.Append(nil, &Record{Time: r.Time, Status: 304})
	if err := json.Unmarshal(empty, &got); err != nil {
		t.Fatalf("%s: %v", empty, err)
	}
	if strings.Contains(string(empty), "trace_id") || strings.Contains(string(empty), "origin_status") {
		t.Errorf("empty fields written: %s", empty)
	}
}

func TestParseFormat(t *testing.T) {
	for _, n := range []string{"json", "combined", "text"} {
		f, err := ParseFormat(n)
		if err != nil || f.String() != n {
			t.Errorf("ParseFormat(%q) = %v, %v", n, f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "json, combined") {
		t.Errorf("ParseFormat(xml) error = %v, want one naming the formats", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLoggerWritesEveryLine(t *testing.T) {
	var out syncBuffer
	l := New(&out, Options{Format: JSON})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 250 {
				r := sample()
				r.Target = "/" + strconv.Itoa(g) + "/" + strconv.Itoa(i)
				l.Log(r)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1000 || l.Dropped() != 0 {
		t.Fatalf("%d lines, %d dropped; want 1000, 0", len(lines), l.Dropped())
	}
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Fatalf("invalid JSON line %q", line)
		}
	}
}

// blockingWriter holds every Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	n       int
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.n += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// TestFullBufferDrops: with the output stuck, Log still returns at once, and every
// line that did not fit is counted; none is lost without being counted.
func TestFullBufferDrops(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	l := New(w, Options{Format: Text, Buffer: 1000})
	l.Log(sample())
	<-w.entered // the writer holds the first line and is stuck in Write
	const n = 100
	for range n {
		l.Log(sample()) // must not block: the test would hang
	}
	dropped := l.Dropped()
	lineLen := len(Text.Append(nil, sample()))
	if want := int64(n - 1000/lineLen); dropped != want {
		t.Errorf("Dropped() = %d, want %d (buffer of 1000 bytes holds %d lines of %d)", dropped, want, 1000/lineLen, lineLen)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(w.n)+l.Dropped() != n+1 {
		t.Errorf("written %d + dropped %d, want %d", w.n, l.Dropped(), n+1)
	}
}

// TestReopen is logrotate's sequence: rename the file, signal, keep logging. Every
// line is in the rotated file or the new one, in order, while a goroutine logs
// throughout.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	// A buffer that holds every line even if the writer never ran: this test is about
	// the reopen losing nothing, not about keeping up (TestFullBufferDrops is).
	l, err := Open(path, Options{Format: JSON, Buffer: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	const total = 3000
	logged := make(chan int, 1)
	start := make(chan struct{})
	go func() {
		for i := range total {
			if i == 500 {
				close(start)
			}
			r := sample()
			r.Status = 100 + i // a sequence number that survives the format
			l.Log(r)
		}
		logged <- total
	}()
	<-start
	for i := range 3 {
		if err := os.Rename(path, path+"."+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	<-logged
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 0 {
		t.Fatalf("%d lines dropped", l.Dropped())
	}
	var seq []int
	for _, name := range []string{path + ".0", path + ".1", path + ".2", path} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r struct{ Status int }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			seq = append(seq, r.Status-100)
		}
		f.Close()
	}
	if len(seq) != total {
		t.Fatalf("%d lines across the files, want %d", len(seq), total)
	}
	for i, s := range seq {
		if s != i {
			t.Fatalf("line %d is request %d: lines out of order or lost", i, s)
		}
	}
}

func TestReopenStdoutIsNoop(t *testing.T) {
	var out syncBuffer
	l := New(&out, Options{})
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen() = %v, want nil for a writer", err)
	}
	l.Close()
}

func TestOpenError(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "a.log"), Options{}); err == nil || !strings.HasPrefix(err.Error(), "access log: ") {
		t.Errorf("Open() error = %v", err)
	}
}

func BenchmarkLogJSON(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "a.log"))
	if err != nil {
		b.Fatal(err)
	}
	l := New(f, Options{Format: JSON})
	defer l.Close()
	r := sample()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
}
