package proxy

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// TestEntriesVaryTwoVariants: a URL whose response varies on Accept-Language, asked
// with two langs, shows both variants with the request field each is for.
func TestEntriesVaryTwoVariants(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=300")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("ETag", `"`+r.Header.Get("Accept-Language")+`"`)
		w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		w.Header().Set("Surrogate-Key", "product-1 catalog")
		io.WriteString(w, "body for "+r.Header.Get("Accept-Language"))
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/p/1?x=y", "Accept-Language", "de")
	p.get(t, "/p/1?x=y", "Accept-Language", "fr")
	p.get(t, "/p/1?x=y", "Accept-Language", "de") // a hit: still two variants
	vs, err := p.h.Entries("/p/1?x=y")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d variants, want 2: %+v", len(vs), vs)
	}
	var langs []string
	for _, v := range vs {
		lang := v.Request["Accept-Language"]
		langs = append(langs, lang)
		if v.ETag != `"`+lang+`"` || v.Status != 200 || v.Lifetime != 60*time.Second || v.TTL <= 0 || v.TTL > 60*time.Second ||
			v.StaleRevalidate != 30*time.Second || v.StaleIfError != 300*time.Second || v.LastModified == "" ||
			v.BodyBytes != int64(len("body for "+lang)) || v.Size <= v.BodyBytes || !slices.Equal(v.Tiers, []string{"local"}) ||
			!slices.Equal(v.Tags, []string{"product-1", "catalog"}) || !slices.Equal(v.Vary, []string{"Accept-Language"}) ||
			time.Since(v.StoredAt) > time.Minute || v.Age < 0 {
			t.Errorf("variant %+v", v)
		}
	}
	slices.Sort(langs)
	if !slices.Equal(langs, []string{"de", "fr"}) {
		t.Errorf("variants for %q, want de and fr", langs)
	}
	// A full URL names the same entries; an unsafe request's invalidation takes them away.
	if vs, _ := p.h.Entries("http://any.host/p/1?x=y"); len(vs) != 2 {
		t.Errorf("by absolute URL: %d variants", len(vs))
	}
	p.do(t, http.MethodPost, "/p/1?x=y", nil)
	if vs, _ := p.h.Entries("/p/1?x=y"); len(vs) != 0 {
		t.Errorf("after invalidation: %+v", vs)
	}
	// A POST response without Content-Location is not kept for GETs (RFC 9110 §9.3.3).
	resp, _ := p.get(t, "/p/1?x=y", "Accept-Language", "de")
	wantStatus(t, resp, "MISS", "fwd=miss")
	if _, err := p.h.Entries(""); err == nil {
		t.Error("Entries(\"\"): no error")
	}
}

func TestKeysUnderPrefix(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})
	p := newTestProxy(t, o.URL)
	for _, path := range []string{"/v1/b", "/v1/a", "/v2/c", "/v1/c?q=1"} {
		p.get(t, path)
	}
	keys, more := p.h.Keys("/v1/", "", 2)
	if !slices.Equal(keys, []string{"/v1/a", "/v1/b"}) || !more {
		t.Errorf("first page = %q, %v", keys, more)
	}
	keys, more = p.h.Keys("/v1/", "/v1/b", 2)
	if !slices.Equal(keys, []string{"/v1/c?q=1"}) || more {
		t.Errorf("second page = %q, %v", keys, more)
	}
	p.h.Clear()
	if keys, _ := p.h.Keys("/", "", 10); len(keys) != 0 {
		t.Errorf("after clear: %q", keys)
	}
}

// TestEntriesFollowKeyRules: inspection keys a URL as requests are keyed, so a URL
// with an ignored parameter names the entry it shares.
func TestEntriesFollowKeyRules(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.Key = policy.KeyRules{IgnoreQuery: []string{"utm_*"}} })
	p.get(t, "/k?id=1&utm_source=a")
	for _, target := range []string{"/k?id=1", "/k?id=1&utm_campaign=b"} {
		if vs, err := p.h.Entries(target); err != nil || len(vs) != 1 {
			t.Errorf("Entries(%q) = %d variants, %v; want the one stored", target, len(vs), err)
		}
		if ex, _ := p.h.Explain(target); ex.Decision == nil || !ex.Decision.Stored {
			t.Errorf("Explain(%q) = %+v", target, ex)
		}
	}
}
