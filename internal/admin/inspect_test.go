package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeInspector struct{ keys []string }

func (f fakeInspector) Entries(url string) (Entries, error) {
	if url == "" {
		return Entries{}, errors.New("url is required")
	}
	return Entries{URL: url, Key: url, Entries: []Entry{{Status: 200, Tiers: []string{"local"}, ETag: `"v1"`}}}, nil
}

func (f fakeInspector) Explain(url string) (Explanation, error) {
	if url == "" {
		return Explanation{}, errors.New("url is required")
	}
	return Explanation{URL: url, Key: url, Decision: &Decision{Status: 200, Reason: "private"}}, nil
}

func (f fakeInspector) Keys(prefix, after string, limit int) ([]string, bool) {
	var out []string
	for _, k := range f.keys {
		if strings.HasPrefix(k, prefix) && k > after {
			if len(out) == limit {
				return out, true
			}
			out = append(out, k)
		}
	}
	return out, false
}

func get(t *testing.T, h http.Handler, path, auth string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestInspectionToken: entries can hold users' data, so with a token only its holder reads them.
func TestInspectionToken(t *testing.T) {
	f := fakeInspector{keys: []string{"/v1/a"}}
	h := Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Token: "s3cret", Inspector: f, Keys: f})
	for _, path := range []string{"/cache/entries?url=/a", "/cache/entries?prefix=/v1/", "/cache/explain?url=/a"} {
		for _, tt := range []struct {
			auth string
			want int
		}{{"", 401}, {"Bearer nope", 401}, {"Bearer s3cret", 200}} {
			if code, body := get(t, h, path, tt.auth); code != tt.want {
				t.Errorf("GET %s with %q = %d %q, want %d", path, tt.auth, code, body, tt.want)
			}
		}
	}
	open := Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Inspector: f, Keys: f})
	if code, _ := get(t, open, "/cache/explain?url=/a", ""); code != 200 {
		t.Errorf("without a token configured: %d, want 200", code)
	}
}

func TestInspectionAnswers(t *testing.T) {
	f := fakeInspector{keys: []string{"/v1/a", "/v1/b", "/v1/c", "/v2/a"}}
	h := Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Inspector: f, Keys: f})
	for _, tt := range []struct {
		path     string
		want     int
		contains string
	}{
		{"/cache/entries?url=/a", 200, `"etag": "\"v1\""`},
		{"/cache/entries", 400, "url is required"},
		{"/cache/entries?url=/a&prefix=/v1/", 400, "not both"},
		{"/cache/entries?prefix=/v1/&limit=0", 400, "limit"},
		{"/cache/entries?prefix=/v1/&limit=5000", 400, "limit"},
		{"/cache/explain?url=/a", 200, `"summary": "the last response (200) was not stored: private: Cache-Control: private`},
		{"/cache/explain", 400, "url is required"},
		{"/cache/entries?prefix=/v3/", 200, `"keys": []`},
	} {
		if code, body := get(t, h, tt.path, ""); code != tt.want || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s = %d %s, want %d containing %q", tt.path, code, body, tt.want, tt.contains)
		}
	}
	// Paging: two pages of two, then the end.
	var got []string
	after := ""
	for range 3 {
		_, body := get(t, h, "/cache/entries?prefix=/v1/&limit=2&after="+after, "")
		var p KeyPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Keys...)
		if after = p.Next; after == "" {
			break
		}
	}
	if want := []string{"/v1/a", "/v1/b", "/v1/c"}; !slices.Equal(got, want) {
		t.Errorf("pages = %q, want %q", got, want)
	}
	// No lister: 501, not a silent empty page.
	noKeys := Handler(&countingClearer{}, prometheus.NewRegistry(), Options{Inspector: f})
	if code, _ := get(t, noKeys, "/cache/entries?prefix=/", ""); code != http.StatusNotImplemented {
		t.Errorf("prefix without a lister = %d, want 501", code)
	}
}

func TestSummaryGlossesEveryReason(t *testing.T) {
	for reason := range reasons {
		s := Summary(Explanation{Decision: &Decision{Status: 200, Reason: reason}})
		if !strings.Contains(s, "not stored: "+reason+": ") {
			t.Errorf("Summary for %q = %q", reason, s)
		}
	}
}
