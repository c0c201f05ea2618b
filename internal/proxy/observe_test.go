package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/accesslog"
)

// recordLog is an AccessLog keeping its records. The proxy logs after the response
// is written, so next waits for the record of one request.
type recordLog struct {
	mu   sync.Mutex
	recs chan accesslog.Record
}

func newRecordLog() *recordLog { return &recordLog{recs: make(chan accesslog.Record, 100)} }

func (l *recordLog) Log(r *accesslog.Record) { l.recs <- *r }

func (l *recordLog) next(t *testing.T) accesslog.Record {
	t.Helper()
	select {
	case r := <-l.recs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no access log record")
		return accesslog.Record{}
	}
}

// TestAccessLogRecords: each outcome reaches the log with its tier, reason and the
// origin's status when it was asked.
func TestAccessLogRecords(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cached":
			w.Header().Set("Cache-Control", "max-age=60")
		case "/private":
			w.Header().Set("Cache-Control", "private, max-age=60")
		case "/revalidate":
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		case "/old":
			w.Header().Set("Cache-Control", "max-age=0")
		}
		io.WriteString(w, "hello")
	})
	log := newRecordLog()
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.AccessLog = log })

	type want struct {
		method, path string
		header       []string
		cache, tier  string
		detail       string
		stored       bool
		origin       int
	}
	for _, tt := range []want{
		{"GET", "/cached?q=1", []string{"User-Agent", "test/1", "Referer", "http://r.test/"}, "miss", "origin", "", true, 200},
		{"GET", "/cached?q=1", nil, "hit", "local", "", false, 0},
		{"GET", "/private", nil, "miss", "origin", "private", false, 200},
		{"POST", "/cached?q=1", nil, "bypass", "origin", "", false, 200},
		{"GET", "/revalidate", nil, "miss", "origin", "", true, 200},
		{"GET", "/revalidate", nil, "revalidated", "origin", "", false, 304},
		{"GET", "/old", nil, "miss", "origin", "", true, 200},
		{"GET", "/old", []string{"Cache-Control", "max-stale=600"}, "stale", "local", "max-stale", false, 0},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(tt.header); i += 2 {
			h.Set(tt.header[i], tt.header[i+1])
		}
		resp, body := p.do(t, tt.method, tt.path, h)
		r := log.next(t)
		name := tt.method + " " + tt.path + " " + resp.Header.Get("Cache-Status")
		if r.Cache != tt.cache || r.Tier != tt.tier || r.Detail != tt.detail || r.Stored != tt.stored || r.OriginStatus != tt.origin {
			t.Errorf("%s: cache=%s tier=%s detail=%q stored=%v origin=%d; want %s %s %q %v %d", name,
				r.Cache, r.Tier, r.Detail, r.Stored, r.OriginStatus, tt.cache, tt.tier, tt.detail, tt.stored, tt.origin)
		}
		if r.Method != tt.method || r.Target != tt.path || r.Status != resp.StatusCode || r.Bytes != int64(len(body)) ||
			r.Proto != resp.Proto || r.Client != "127.0.0.1" || r.Duration <= 0 || r.Time.IsZero() {
			t.Errorf("%s: record %+v does not describe the request (status %d, %d bytes)", name, r, resp.StatusCode, len(body))
		}
		if tt.origin != 0 && r.OriginTime <= 0 {
			t.Errorf("%s: origin time %v, want > 0", name, r.OriginTime)
		}
		if h.Get("User-Agent") != "" && (r.UserAgent != "test/1" || r.Referer != "http://r.test/") {
			t.Errorf("%s: user agent %q, referer %q", name, r.UserAgent, r.Referer)
		}
	}
	// A request the proxy refuses itself is logged too.
	resp, _ := p.do(t, "CONNECT", "/x", nil)
	if r := log.next(t); r.Status != resp.StatusCode || r.Cache != "bypass" {
		t.Errorf("CONNECT: %+v", r)
	}
}

// TestAccessLogFormatsFromProxy runs the real logger in each format over a hit.
func TestAccessLogFormatsFromProxy(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	for _, f := range []accesslog.Format{accesslog.Text, accesslog.JSON, accesslog.Combined} {
		var out syncBuffer
		l := accesslog.New(&out, accesslog.Options{Format: f})
		p := newTestProxy(t, o.URL, func(opt *Options) { opt.AccessLog = l })
		p.get(t, "/a")
		p.get(t, "/a")
		p.Close() // waits for the handlers, so both lines are logged
		l.Close()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%v: %d lines: %q", f, len(lines), out.String())
		}
		for i, want := range []string{"miss", "hit"} {
			if !strings.Contains(lines[i], want) {
				t.Errorf("%v line %d = %q, want it to say %s", f, i, lines[i], want)
			}
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
