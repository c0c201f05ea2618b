package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExplainEveryReason: for each reason policy.Storable (and the proxy's size and
// retention checks) can give, Explain names it in the same word Cache-Status used.
func TestExplainEveryReason(t *testing.T) {
	big := strings.Repeat("x", 2<<20) // over the test proxy's 1 MiB --max-object-size
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/stored":
			h.Set("Cache-Control", "max-age=60")
		case "/no-store":
			h.Set("Cache-Control", "no-store")
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/authorization":
			h.Set("Cache-Control", "max-age=60")
		case "/set-cookie":
			h.Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
			h.Set("Set-Cookie", "id=1")
		case "/vary-star":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "*")
		case "/status":
			w.WriteHeader(http.StatusInternalServerError)
		case "/must-understand":
			h.Set("Cache-Control", "must-understand, no-store, max-age=60")
			w.WriteHeader(299)
		case "/too-large":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Content-Length", "2097152")
			io.WriteString(w, big)
			return
		case "/incomplete-or-too-large": // no Content-Length: found too large while streaming
			h.Set("Cache-Control", "max-age=60")
			w.(http.Flusher).Flush()
			io.WriteString(w, big)
			return
		case "/refreshed":
			h.Set("Cache-Control", "no-cache")
			h.Set("ETag", `"r"`)
			if r.Header.Get("If-None-Match") == `"r"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		case "/stale":
			h.Set("Cache-Control", "max-age=0, must-revalidate")
		case "/method": // stored, stale, with a validator; a HEAD revalidating it gets a 200 for another one
			h.Set("Cache-Control", "max-age=0")
			h.Set("ETag", `"m"`)
			if r.Method == http.MethodHead {
				h.Set("ETag", `"m2"`) // not the stored response (RFC 9111 §4.3.5): it is not updated
			}
		}
		io.WriteString(w, "body")
	})
	p := newTestProxy(t, o.URL)
	for _, tt := range []struct {
		path   string
		header []string
		method string
	}{
		{"/stored", nil, ""},
		{"/no-store", nil, ""},
		{"/no-store?request", []string{"Cache-Control", "no-store"}, ""},
		{"/private", nil, ""},
		{"/authorization", []string{"Authorization", "Bearer x"}, ""},
		{"/set-cookie", nil, ""},
		{"/vary-star", nil, ""},
		{"/status", nil, ""},
		{"/must-understand", nil, ""},
		{"/too-large", nil, ""},
		{"/incomplete-or-too-large", nil, ""},
		{"/stale", nil, ""},
		{"/method", nil, "HEAD"},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(tt.header); i += 2 {
			h.Set(tt.header[i], tt.header[i+1])
		}
		if tt.method != "" {
			p.get(t, tt.path) // store it first
		}
		method := tt.method
		if method == "" {
			method = http.MethodGet
		}
		resp, _ := p.do(t, method, tt.path, h)
		want, _, _ := strings.Cut(strings.TrimPrefix(tt.path, "/"), "?")
		ex, err := p.h.Explain(tt.path)
		if err != nil || ex.Decision == nil {
			t.Fatalf("%s: Explain = %+v, %v", tt.path, ex, err)
		}
		d := ex.Decision
		switch want {
		case "stored":
			if !d.Stored || d.Reason != "" || ex.Stored != 1 {
				t.Errorf("%s: %+v, stored %d; want stored", tt.path, d, ex.Stored)
			}
			continue
		case "incomplete-or-too-large": // Cache-Status was sent before the body grew too large
		default:
			if detail, _ := statusDetail(resp.Header.Get("Cache-Status")); detail != d.Reason {
				t.Errorf("%s: Cache-Status detail %q, Explain reason %q: not the same words", tt.path, detail, d.Reason)
			}
		}
		if d.Stored || d.Reason != want || d.Method != method || d.Status != resp.StatusCode && want != "method" {
			t.Errorf("%s: decision %+v, want not stored for %q (status %d)", tt.path, d, want, resp.StatusCode)
		}
	}
	p.get(t, "/refreshed")
	p.get(t, "/refreshed")
	if ex, _ := p.h.Explain("/refreshed"); ex.Decision == nil || !ex.Decision.Stored || ex.Decision.Status != http.StatusNotModified {
		t.Errorf("refreshed by a 304: %+v", ex.Decision)
	}
	if ex, _ := p.h.Explain("/never-seen"); ex.Decision != nil || ex.Key != "/never-seen" {
		t.Errorf("unseen URL: %+v", ex)
	}
	if ex, _ := p.h.Explain("/no-store"); ex.HitForMiss.IsZero() {
		t.Errorf("no-store: hit-for-miss not reported: %+v", ex)
	}
	if _, err := p.h.Explain("no-slash"); err == nil {
		t.Error("Explain(no-slash): no error")
	}
}

func TestDecisionsBounded(t *testing.T) {
	var d decisions
	for i := range 3 * maxDecisions {
		d.note("k"+strconv.Itoa(i), Decision{Status: i})
	}
	if n := len(d.cur) + len(d.old); n > 2*maxDecisions {
		t.Errorf("%d decisions kept, want at most %d", n, 2*maxDecisions)
	}
	last := 3*maxDecisions - 1
	if dec, ok := d.get("k" + strconv.Itoa(last)); !ok || dec.Status != last {
		t.Errorf("latest decision lost: %+v %v", dec, ok)
	}
}

// TestDecisionWords checks that a decision keeps its method and reason as numbers
// without losing them: standard methods and reasons come back as they were noted,
// and once a flood of made-up methods fills the table, a new one reads otherWord
// while the standard ones still read right.
func TestDecisionWords(t *testing.T) {
	var d decisions
	now := time.Unix(1_700_000_000, 5)
	cases := []Decision{
		{Time: now, Method: http.MethodGet, Status: 200, Stored: true},
		{Time: now, Method: http.MethodPost, Status: 201, Reason: "method"},
		{Time: now, Method: "PURGE", Status: 405, Reason: "method"},
		{Time: now, Method: http.MethodGet, Status: 200, Reason: "incomplete-or-too-large"},
	}
	for i, want := range cases {
		key := fmt.Sprintf("/k%d", i)
		d.note(key, want)
		if got, ok := d.get(key); !ok || got != want || !got.Time.Equal(want.Time) {
			t.Errorf("get(%s) = %+v, %v; want %+v", key, got, ok, want)
		}
	}
	for i := range 400 {
		d.note("/flood", Decision{Time: now, Method: fmt.Sprintf("X%d", i), Status: 405, Reason: "method"})
	}
	if got, _ := d.get("/flood"); got.Method != otherWord || got.Reason != "method" {
		t.Errorf("after a flood of methods: %+v; want method %q, reason method", got, otherWord)
	}
	d.note("/after", Decision{Time: now, Method: http.MethodDelete, Status: 204, Reason: "method"})
	if got, _ := d.get("/after"); got.Method != http.MethodDelete {
		t.Errorf("a standard method after the flood reads %q", got.Method)
	}
	if got, _ := d.get("/k2"); got.Method != "PURGE" {
		t.Errorf("a method numbered before the flood reads %q", got.Method)
	}
}
