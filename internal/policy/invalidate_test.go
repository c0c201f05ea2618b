package policy

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestInvalidates(t *testing.T) {
	tests := []struct {
		name   string
		method string
		status int
		want   bool
	}{
		// RFC 9111 §4.4: an unsafe method with a non-error status invalidates.
		{"POST 200", "POST", 200, true},
		{"POST 201", "POST", 201, true},
		{"POST 303 redirect is not an error", "POST", 303, true},
		{"PUT 204", "PUT", 204, true},
		{"DELETE 200", "DELETE", 200, true},
		{"PATCH 200", "PATCH", 200, true},
		{"unknown method counts as unsafe", "PURGE", 200, true},
		{"method names are case-sensitive", "get", 200, true},
		{"POST 399", "POST", 399, true},
		{"POST 400 is an error", "POST", 400, false},
		{"POST 404 is an error", "POST", 404, false},
		{"POST 500 is an error", "POST", 500, false},
		{"POST 100 is not final", "POST", 100, false},
		{"GET never invalidates", "GET", 200, false},
		{"HEAD never invalidates", "HEAD", 200, false},
		{"OPTIONS never invalidates", "OPTIONS", 200, false},
		{"TRACE never invalidates", "TRACE", 200, false},
		{"QUERY is safe", "QUERY", 200, false},
		{"PROPFIND is safe", "PROPFIND", 207, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Invalidates(tt.method, tt.status); got != tt.want {
				t.Errorf("Invalidates(%q, %d) = %v, want %v", tt.method, tt.status, got, tt.want)
			}
		})
	}
}

func TestIsSafe(t *testing.T) {
	tests := []struct {
		method string
		want   bool
	}{
		// RFC 9110 §9.2.1.
		{"GET", true}, {"HEAD", true}, {"OPTIONS", true}, {"TRACE", true},
		{"QUERY", true}, {"PROPFIND", true}, {"SEARCH", true}, {"REPORT", true},
		{"POST", false}, {"PUT", false}, {"DELETE", false}, {"PATCH", false}, {"CONNECT", false},
		{"get", false}, {"", false}, {"PURGE", false},
	}
	for _, tt := range tests {
		t.Run("method "+tt.method, func(t *testing.T) {
			if got := IsSafe(tt.method); got != tt.want {
				t.Errorf("IsSafe(%q) = %v, want %v", tt.method, got, tt.want)
			}
		})
	}
}

func TestInvalidatedKeys(t *testing.T) {
	target := "http://o.test/a/b?x=1"
	tests := []struct {
		name   string
		header http.Header
		want   []string
	}{
		// RFC 9111 §4.4: the target URI, and Location and Content-Location of the same origin.
		{"target only", hdr(), []string{"/a/b?x=1"}},
		{"relative Location", hdr("Location", "/c"), []string{"/a/b?x=1", "/c"}},
		{"path-relative Location", hdr("Location", "c?y=2"), []string{"/a/b?x=1", "/a/c?y=2"}},
		{"absolute same-origin Location", hdr("Location", "http://o.test/d?e"), []string{"/a/b?x=1", "/d?e"}},
		{"Content-Location", hdr("Content-Location", "/f"), []string{"/a/b?x=1", "/f"}},
		{"both", hdr("Location", "/l", "Content-Location", "/cl"), []string{"/a/b?x=1", "/l", "/cl"}},
		{"fragment dropped", hdr("Location", "/g#frag"), []string{"/a/b?x=1", "/g"}},
		{"other host not invalidated", hdr("Location", "http://evil.test/a"), []string{"/a/b?x=1"}},
		{"other scheme not invalidated", hdr("Location", "https://o.test/a"), []string{"/a/b?x=1"}},
		{"other port not invalidated", hdr("Location", "http://o.test:8080/a"), []string{"/a/b?x=1"}},
		{"protocol-relative other host not invalidated", hdr("Content-Location", "//evil.test/a"), []string{"/a/b?x=1"}},
		{"unparsable Location ignored", hdr("Location", "http://[::1"), []string{"/a/b?x=1"}},
		{"empty Location ignored", hdr("Location", ""), []string{"/a/b?x=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(target)
			if err != nil {
				t.Fatal(err)
			}
			if got := InvalidatedKeys(u, tt.header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("InvalidatedKeys(%s, %q) = %q, want %q", target, tt.header, got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name string
		url  *url.URL
		want string
		bug  string
	}{
		// RFC 9111 §2: the key is the target URI; one proxy fronts one origin, so
		// scheme and host are left out.
		{"path", mustParse("http://o.test/a"), "/a", ""},
		{"empty path is /", mustParse("http://o.test"), "/", ""},
		{"query kept", mustParse("http://o.test/a?b=1&c=2"), "/a?b=1&c=2", ""},
		{"query not reordered", mustParse("http://o.test/a?c=2&b=1"), "/a?c=2&b=1", ""},
		{"empty query kept apart from none", mustParse("http://o.test/a?"), "/a?", ""},
		{"escaped slash kept apart from a slash", mustParse("http://o.test/a%2Fb"), "/a%2Fb", ""},
		{"escaping as sent", mustParse("http://o.test/%7Euser"), "/%7Euser", ""},
		{"fragment dropped", mustParse("http://o.test/a#frag"), "/a", ""},
		{"host and userinfo dropped", mustParse("https://u:p@other.test:8443/a"), "/a", ""},
		{"origin-form request target", mustParseRequestURI("/p?q"), "/p?q", ""},
		{"asterisk-form request target", mustParseRequestURI("*"), "*", ""},
		{"opaque", mustParse("http:foo"), "foo", ""},
		{"opaque with a query keeps the query", mustParse("http:foo?a=1"), "foo?a=1",
			""},
		{"the proxy's sameOriginKey form keeps the query", &url.URL{Path: "/a", RawPath: "/a", Opaque: "/a", RawQuery: "x=1"}, "/a?x=1",
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Key(tt.url)
			verdict(t, tt.bug, got == tt.want, "Key(%q) = %q, want %q", tt.url.String(), got, tt.want)
		})
	}
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func mustParseRequestURI(s string) *url.URL {
	u, err := url.ParseRequestURI(s)
	if err != nil {
		panic(err)
	}
	return u
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"http://o.test/a", "http://o.test", "http://o.test/a?", "http://o.test/a%2Fb?c=d",
		"https://u:p@h.test:1/x#y", "/p?q", "*", "http:foo", "//h/x", "http://h//x", "http://h/%zz", "http://h/a;b?c;d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, parse := range []func(string) (*url.URL, error){url.Parse, url.ParseRequestURI} {
			u, err := parse(raw)
			if err != nil {
				continue
			}
			k := Key(u)
			if k == "" {
				t.Fatalf("Key(%q) is empty", raw)
			}
			if u.Opaque == "" && u.Scheme != "" && strings.HasPrefix(strings.ToLower(k), u.Scheme+":") {
				t.Fatalf("Key(%q) = %q starts with the scheme", raw, k)
			}
			// One proxy, one origin: scheme, host, userinfo and fragment never change the key.
			v := *u
			v.Scheme, v.Host, v.User, v.Fragment, v.RawFragment = "https", "elsewhere.test:1", nil, "f", ""
			if kv := Key(&v); kv != k {
				t.Fatalf("Key(%q) = %q, but %q with another origin", raw, k, kv)
			}
			// The query is part of the target URI (§4): two targets that differ
			// only in it never share a key.
			w := *u
			w.RawQuery, w.ForceQuery = u.RawQuery+"&fuzz", false
			lost := u.RawQuery != "" && !strings.HasSuffix(k, "?"+u.RawQuery)
			if lost || Key(&w) == k {
				t.Fatalf("Key(%q) = %q ignores the query (%q, with %q)", raw, k, u.RawQuery, w.RawQuery)
			}
		}
	})
}
