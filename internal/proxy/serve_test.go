package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in         string
		n          int64
		start, end int64
		ok         bool
	}{
		{"bytes=0-1", 10, 0, 1, true},
		{"bytes=2-", 10, 2, 9, true},
		{"bytes=-3", 10, 7, 9, true},
		{"bytes=-30", 10, 0, 9, true},
		{"bytes=5-100", 10, 5, 9, true},
		{"bytes=10-", 10, -1, 0, true}, // unsatisfiable
		{"bytes=-0", 10, -1, 0, true},  // unsatisfiable
		{"bytes=0-1,3-4", 10, 0, 0, false},
		{"bytes=3-1", 10, 0, 0, false},
		{"items=0-1", 10, 0, 0, false},
		{"bytes=a-b", 10, 0, 0, false},
	}
	for _, tt := range tests {
		start, end, ok := parseRange(tt.in, tt.n)
		if ok != tt.ok || (ok && (start != tt.start || end != tt.end)) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v; want %d, %d, %v", tt.in, tt.n, start, end, ok, tt.start, tt.end, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=-0"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if n < 0 {
			return
		}
		start, end, ok := parseRange(s, n)
		if ok && start >= 0 && (end < start || end >= n) {
			t.Fatalf("parseRange(%q, %d) = %d-%d, outside the body", s, n, start, end)
		}
	})
}

type framingCase struct {
	method      string
	header      http.Header
	status      int
	length      int64  // the response's ContentLength as the client reads it
	contentLeng string // the Content-Length field as sent, "" for none
}

// TestHitFraming checks that a hit reaches the client with a Content-Length and
// without chunking whatever its size, including the small bodies whose length serve
// leaves to net/http, and that HEAD, Range and conditional hits keep theirs.
func TestHitFraming(t *testing.T) {
	for _, size := range []int{0, 1, 1024, autoLengthMax - 1, autoLengthMax, autoLengthMax + 1, 4096, 100 << 10} {
		body := strings.Repeat("x", size)
		o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Etag", `"v1"`)
			_, _ = io.WriteString(w, body)
		})
		p := newTestProxy(t, o.URL)
		p.do(t, http.MethodGet, "/a", nil) // fills
		p.h.store.Wait()
		tests := []framingCase{
			{http.MethodGet, nil, http.StatusOK, int64(size), strconv.Itoa(size)},
			{http.MethodHead, nil, http.StatusOK, int64(size), strconv.Itoa(size)},
			{http.MethodGet, http.Header{"If-None-Match": {`"v1"`}}, http.StatusNotModified, 0, ""},
			{http.MethodGet, http.Header{"If-None-Match": {`"v2"`}}, http.StatusOK, int64(size), strconv.Itoa(size)},
			{http.MethodGet, http.Header{"Range": {"bytes=1-1,3-3"}}, http.StatusOK, int64(size), strconv.Itoa(size)},
		}
		if size > 1 {
			tests = append(tests, framingCase{http.MethodGet, http.Header{"Range": {"bytes=0-1"}}, http.StatusPartialContent, 2, "2"})
		}
		for _, tt := range tests {
			resp, got := p.do(t, tt.method, "/a", tt.header)
			name := fmt.Sprintf("%d bytes, %s %v", size, tt.method, tt.header)
			if resp.Header.Get("X-Cache") != "HIT" || resp.StatusCode != tt.status {
				t.Errorf("%s: X-Cache %q, status %d; want HIT, %d", name, resp.Header.Get("X-Cache"), resp.StatusCode, tt.status)
			}
			if len(resp.TransferEncoding) > 0 || resp.ContentLength != tt.length || resp.Header.Get("Content-Length") != tt.contentLeng {
				t.Errorf("%s: Transfer-Encoding %v, ContentLength %d, Content-Length %q; want none, %d, %q",
					name, resp.TransferEncoding, resp.ContentLength, resp.Header.Get("Content-Length"), tt.length, tt.contentLeng)
			}
			if tt.method == http.MethodGet && tt.status == http.StatusOK && got != body {
				t.Errorf("%s: body of %d bytes, want %d", name, len(got), size)
			}
		}
		if o.calls.Load() != 1 {
			t.Errorf("%d bytes: origin called %d times, want 1", size, o.calls.Load())
		}
	}
}
