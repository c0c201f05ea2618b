package proxy

import (
	"net/http"
	"sync"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// queryOrigin answers every GET with max-age=60 and records the raw query strings it saw.
type queryOrigin struct {
	*origin
	mu      sync.Mutex
	queries []string
}

func newQueryOrigin(t *testing.T, extra func(w http.ResponseWriter, r *http.Request)) *queryOrigin {
	q := &queryOrigin{}
	q.origin = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.queries = append(q.queries, r.Method+" "+r.URL.RawQuery)
		q.mu.Unlock()
		if extra != nil {
			extra(w, r)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("body of " + r.URL.RawQuery))
	})
	return q
}

func (q *queryOrigin) seen() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.queries...)
}

func TestKeyIgnoreQuery(t *testing.T) {
	o := newQueryOrigin(t, nil)
	p := newTestProxy(t, o.URL, func(opt *Options) {
		opt.Key = policy.KeyRules{IgnoreQuery: []string{"utm_*", "fbclid"}}
	})
	resp, body := p.get(t, "/a?utm_source=x&id=1")
	wantStatus(t, resp, "MISS", "fwd=miss; stored")
	resp, body2 := p.get(t, "/a?id=1&utm_source=y")
	wantStatus(t, resp, "HIT", "hit")
	if body2 != body {
		t.Errorf("hit body %q, want the stored %q", body2, body)
	}
	// The origin received the request's own query string, tracking parameters and all.
	if got := o.seen(); len(got) != 1 || got[0] != "GET utm_source=x&id=1" {
		t.Errorf("origin saw %q, want the first request's own query", got)
	}
	// Other parameters still make other entries.
	resp, _ = p.get(t, "/a?id=2&fbclid=z")
	wantStatus(t, resp, "MISS", "fwd=miss")
	if got := o.seen(); got[len(got)-1] != "GET id=2&fbclid=z" {
		t.Errorf("origin saw %q last, want the request's own query", got[len(got)-1])
	}
}

func TestKeyOnlyAndSortQuery(t *testing.T) {
	o := newQueryOrigin(t, nil)
	p := newTestProxy(t, o.URL, func(opt *Options) {
		opt.Key = policy.KeyRules{OnlyQuery: []string{"id", "page"}, SortQuery: true}
	})
	p.get(t, "/l?page=2&id=1&session=abc")
	for _, target := range []string{"/l?id=1&page=2", "/l?session=zzz&id=1&page=2", "/l?page=2&id=%31"} {
		resp, _ := p.get(t, target)
		wantStatus(t, resp, "HIT", "hit")
	}
	resp, _ := p.get(t, "/l?id=1&page=3")
	wantStatus(t, resp, "MISS", "fwd=miss")
}

// An unsafe request invalidates under the same rules: its own target and the
// Location / Content-Location it names (RFC 9111 §4.4).
func TestKeyRulesApplyToInvalidation(t *testing.T) {
	o := newQueryOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/orders" {
			w.Header().Set("Location", "/a?utm_campaign=mail&id=1")
			w.Header().Set("Content-Location", "/b?fbclid=q")
		}
	})
	p := newTestProxy(t, o.URL, func(opt *Options) {
		opt.Key = policy.KeyRules{IgnoreQuery: []string{"utm_*", "fbclid"}}
	})
	warm := func() {
		for _, target := range []string{"/a?id=1", "/b", "/c?x=1"} {
			p.get(t, target)
			if resp, _ := p.get(t, target); resp.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("%s is not stored", target)
			}
		}
	}
	warm()
	pr, _ := p.do(t, http.MethodPost, "/c?utm_source=ad&x=1", nil)
	if resp, _ := p.get(t, "/c?x=1"); resp.Header.Get("X-Cache") != "MISS" {
		t.Errorf("POST /c?utm_source=ad&x=1 (%d, %q) did not invalidate /c?x=1: %q", pr.StatusCode, pr.Header.Get("Cache-Status"), resp.Header.Get("Cache-Status"))
	}
	warm()
	p.do(t, http.MethodPost, "/orders", nil)
	for _, target := range []string{"/a?id=1", "/b"} {
		if resp, _ := p.get(t, target); resp.Header.Get("X-Cache") != "MISS" {
			t.Errorf("Location/Content-Location naming %s under other tracking parameters did not invalidate it", target)
		}
	}
}

// Without rules, keys are exactly today's: the query as sent.
func TestNoKeyRulesKeepExactKeys(t *testing.T) {
	o := newQueryOrigin(t, nil)
	p := newTestProxy(t, o.URL)
	p.get(t, "/a?utm_source=x&id=1")
	for _, target := range []string{"/a?id=1&utm_source=x", "/a?id=1", "/a?utm_source=x&id=%31"} {
		if resp, _ := p.get(t, target); resp.Header.Get("X-Cache") != "MISS" {
			t.Errorf("%s shares an entry without key rules", target)
		}
	}
}
