package policy

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	auth := hdr("Authorization", "Bearer t")
	expires := httpDate(t0.Add(time.Hour))
	tests := []struct {
		name    string
		method  string
		req     http.Header
		status  int
		resp    http.Header
		wantOK  bool
		wantWhy string
		bug     string
	}{
		{"plain 200 is storable by default", "GET", nil, 200, nil, true, "", ""},
		{"200 with max-age", "GET", nil, 200, hdr("Cache-Control", "max-age=60"), true, "", ""},
		{"no-cache response is stored, revalidated on use", "GET", nil, 200, hdr("Cache-Control", "no-cache"), true, "", ""},

		// Only GET responses are stored; §3 allows others, this cache does not.
		{"HEAD is not stored", "HEAD", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method", ""},
		{"POST with explicit freshness is not stored", "POST", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method", ""},
		{"PUT is not stored", "PUT", nil, 200, nil, false, "method", ""},
		{"method names are case-sensitive", "get", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method", ""},

		// §3, §5.2.2.5: no-store.
		{"response no-store", "GET", nil, 200, hdr("Cache-Control", "no-store"), false, "no-store", ""},
		{"response no-store beats max-age", "GET", nil, 200, hdr("Cache-Control", "max-age=60, no-store"), false, "no-store", ""},
		{"no-store on a later field line", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Cache-Control", "no-store"), false, "no-store", ""},
		{"no-store after a bad directive", "GET", nil, 200, hdr("Cache-Control", "max-age=abc, no-store"), false, "no-store", ""},
		// §5.2.1.5: request no-store.
		{"request no-store", "GET", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), false, "no-store", ""},
		{"request no-store is not overridden by must-understand", "GET", hdr("Cache-Control", "no-store"), 200,
			hdr("Cache-Control", "must-understand, no-store, max-age=60"), false, "no-store", ""},
		{"request Pragma no-cache does not stop storing", "GET", hdr("Pragma", "no-cache"), 200, hdr("Cache-Control", "max-age=60"), true, "", ""},

		// §3, §5.2.2.7: a shared cache never stores private.
		{"private", "GET", nil, 200, hdr("Cache-Control", "private, max-age=60"), false, "private", ""},
		{"private beats public", "GET", nil, 200, hdr("Cache-Control", "public, private"), false, "private", ""},
		{"qualified private allows storing the rest", "GET", nil, 200,
			hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Set-Cookie", "a=b"), true, "",
			""},

		// §3.5: Authorization needs public, s-maxage or must-revalidate.
		{"Authorization with only max-age", "GET", auth, 200, hdr("Cache-Control", "max-age=60"), false, "authorization", ""},
		{"Authorization with no directives", "GET", auth, 200, nil, false, "authorization", ""},
		{"Authorization with public", "GET", auth, 200, hdr("Cache-Control", "public"), true, "", ""},
		{"Authorization with s-maxage", "GET", auth, 200, hdr("Cache-Control", "s-maxage=60"), true, "", ""},
		{"Authorization with must-revalidate", "GET", auth, 200, hdr("Cache-Control", "must-revalidate, max-age=60"), true, "", ""},
		{"Authorization with proxy-revalidate is not enough", "GET", auth, 200, hdr("Cache-Control", "proxy-revalidate, max-age=60"), false, "authorization", ""},
		{"Authorization with invalid s-maxage is not enough", "GET", auth, 200, hdr("Cache-Control", "s-maxage=x, max-age=60"), false, "authorization", ""},
		{"Authorization with public but private", "GET", auth, 200, hdr("Cache-Control", "public, private"), false, "private", ""},
		{"Authorization with s-maxage from CDN-Cache-Control", "GET", auth, 200,
			hdr("CDN-Cache-Control", "s-maxage=60", "Cache-Control", "max-age=60"), true, "", ""},

		// §3: status must be final and cacheable by default, or freshness explicit.
		{"203 by default", "GET", nil, 203, nil, true, "", ""},
		{"204 by default", "GET", nil, 204, nil, true, "", ""},
		{"300 by default", "GET", nil, 300, nil, true, "", ""},
		{"301 by default", "GET", nil, 301, nil, true, "", ""},
		{"308 by default (RFC 9110 §15.1)", "GET", nil, 308, nil, true, "", ""},
		{"404 by default", "GET", nil, 404, nil, true, "", ""},
		{"405 by default", "GET", nil, 405, nil, true, "", ""},
		{"410 by default", "GET", nil, 410, nil, true, "", ""},
		{"414 by default", "GET", nil, 414, nil, true, "", ""},
		{"501 by default", "GET", nil, 501, nil, true, "", ""},
		{"302 needs explicit freshness", "GET", nil, 302, nil, false, "status", ""},
		{"303 needs explicit freshness", "GET", nil, 303, nil, false, "status", ""},
		{"307 needs explicit freshness", "GET", nil, 307, nil, false, "status", ""},
		{"400 needs explicit freshness", "GET", nil, 400, nil, false, "status", ""},
		{"403 needs explicit freshness", "GET", nil, 403, nil, false, "status", ""},
		{"500 needs explicit freshness", "GET", nil, 500, nil, false, "status", ""},
		{"502 needs explicit freshness", "GET", nil, 502, nil, false, "status", ""},
		{"503 needs explicit freshness", "GET", nil, 503, nil, false, "status", ""},
		{"302 with max-age", "GET", nil, 302, hdr("Cache-Control", "max-age=60"), true, "", ""},
		{"302 with s-maxage", "GET", nil, 302, hdr("Cache-Control", "s-maxage=60"), true, "", ""},
		{"302 with Expires", "GET", nil, 302, hdr("Expires", expires), true, "", ""},
		{"302 with invalid Expires still counts as explicit", "GET", nil, 302, hdr("Expires", "0"), true, "", ""},
		{"302 with public", "GET", nil, 302, hdr("Cache-Control", "public"), true, "", ""},
		{"503 with max-age", "GET", nil, 503, hdr("Cache-Control", "max-age=5"), true, "", ""},
		{"unknown final status needs explicit freshness", "GET", nil, 299, nil, false, "status", ""},
		{"unknown final status with max-age", "GET", nil, 299, hdr("Cache-Control", "max-age=60"), true, "", ""},
		{"unknown 5xx with max-age", "GET", nil, 599, hdr("Cache-Control", "max-age=60"), true, "", ""},
		// §3.3: a 206 is kept only as one byte range of a representation of known length.
		{"206 without Content-Range, even with max-age", "GET", nil, 206, hdr("Cache-Control", "max-age=60"), false, "status", ""},
		{"206 without Content-Range, even public", "GET", nil, 206, hdr("Cache-Control", "public"), false, "status", ""},
		{"206 with unknown complete length", "GET", nil, 206, hdr("Cache-Control", "max-age=60", "Content-Range", "bytes 0-4/*"), false, "status", ""},
		{"206 multipart", "GET", nil, 206, hdr("Cache-Control", "max-age=60", "Content-Type", "multipart/byteranges; boundary=x"), false, "status", ""},
		{"304 never, even with max-age", "GET", nil, 304, hdr("Cache-Control", "max-age=60"), false, "status", ""},
		{"304 never, even public", "GET", nil, 304, hdr("Cache-Control", "public"), false, "status", ""},
		{"1xx is not final", "GET", nil, 100, hdr("Cache-Control", "max-age=60"), false, "status", ""},
		{"101 is not final", "GET", nil, 101, hdr("Cache-Control", "public"), false, "status", ""},

		// §4.1: Vary: * never matches, so storing it is pointless.
		{"Vary star", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "*"), false, "vary-star", ""},
		{"Vary star among names", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept, *"), false, "vary-star", ""},
		{"Vary star on a second line", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept", "Vary", "*"), false, "vary-star", ""},
		{"Vary names are fine", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"), true, "", ""},

		// Set-Cookie is stored only when the origin vouched for sharing it (§7.3).
		{"Set-Cookie without explicit freshness", "GET", nil, 200, hdr("Set-Cookie", "id=1"), false, "set-cookie", ""},
		{"Set-Cookie with heuristic freshness only", "GET", nil, 200,
			hdr("Set-Cookie", "id=1", "Last-Modified", httpDate(t0.Add(-time.Hour)), "Date", httpDate(t0)), false, "set-cookie", ""},
		{"Set-Cookie with max-age", "GET", nil, 200, hdr("Set-Cookie", "id=1", "Cache-Control", "max-age=60"), true, "", ""},
		{"Set-Cookie with s-maxage", "GET", nil, 200, hdr("Set-Cookie", "id=1", "Cache-Control", "s-maxage=60"), true, "", ""},
		{"Set-Cookie with Expires", "GET", nil, 200, hdr("Set-Cookie", "id=1", "Expires", expires), true, "", ""},
		{"Set-Cookie with public", "GET", nil, 200, hdr("Set-Cookie", "id=1", "Cache-Control", "public"), true, "", ""},
		{"Set-Cookie with invalid max-age", "GET", nil, 200, hdr("Set-Cookie", "id=1", "Cache-Control", "max-age=abc"), false, "set-cookie", ""},

		// §5.2.2.3: must-understand.
		{"must-understand with understood status overrides no-store", "GET", nil, 200,
			hdr("Cache-Control", "must-understand, no-store, max-age=60"), true, "", ""},
		{"must-understand without no-store", "GET", nil, 200, hdr("Cache-Control", "must-understand, max-age=60"), true, "", ""},
		{"must-understand on a later line", "GET", nil, 200,
			hdr("Cache-Control", "no-store, max-age=60", "Cache-Control", "must-understand"), true, "", ""},
		{"must-understand with understood 302 and max-age", "GET", nil, 302,
			hdr("Cache-Control", "must-understand, no-store, max-age=60"), true, "", ""},
		{"must-understand with understood 302 still needs freshness", "GET", nil, 302,
			hdr("Cache-Control", "must-understand, no-store"), false, "status", ""},
		{"must-understand with unknown status", "GET", nil, 299,
			hdr("Cache-Control", "must-understand, no-store, max-age=60"), false, "must-understand", ""},
		{"must-understand with unknown status and no no-store", "GET", nil, 299,
			hdr("Cache-Control", "must-understand, max-age=60"), false, "must-understand", ""},
		{"must-understand with 206 lacking Content-Range", "GET", nil, 206, hdr("Cache-Control", "must-understand, max-age=60"), false, "status", ""},
		{"206 with one byte range", "GET", nil, 206, hdr("Cache-Control", "max-age=60", "Content-Range", "bytes 4-9/10"), true, "", ""},
		{"must-understand does not override private", "GET", nil, 200,
			hdr("Cache-Control", "must-understand, private, max-age=60"), false, "private", ""},

		// RFC 9213 §2.1: the targeted field replaces Cache-Control.
		{"CDN-Cache-Control no-store beats Cache-Control public", "GET", nil, 200,
			hdr("CDN-Cache-Control", "no-store", "Cache-Control", "public, max-age=60"), false, "no-store", ""},
		{"CDN-Cache-Control max-age beats Cache-Control no-store", "GET", nil, 200,
			hdr("CDN-Cache-Control", "max-age=60", "Cache-Control", "no-store"), true, "", ""},
		{"Surrogate-Control private", "GET", nil, 200,
			hdr("Surrogate-Control", "private", "Cache-Control", "public"), false, "private", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchange(tt.method, tt.req, tt.status, tt.resp)
			ok, why := Storable(x)
			verdict(t, tt.bug, ok == tt.wantOK && why == tt.wantWhy,
				"Storable(%s %d %q) = %v, %q; want %v, %q", tt.method, tt.status, tt.resp, ok, why, tt.wantOK, tt.wantWhy)
		})
	}
}

func TestStorableReasonOnlyWhenRefused(t *testing.T) {
	for status := 100; status < 600; status++ {
		for _, cc := range []string{"", "max-age=60", "no-store", "public", "private", "must-understand, no-store"} {
			ok, why := Storable(exchange("GET", nil, status, hdr("Cache-Control", cc)))
			if ok != (why == "") {
				t.Errorf("Storable(%d, %q) = %v, %q; want a reason exactly when refused", status, cc, ok, why)
			}
		}
	}
}

func FuzzStorable(f *testing.F) {
	f.Add("GET", "", "", 200, "max-age=60", "", "", "")
	f.Add("GET", "no-store", "", 200, "max-age=60", "", "", "")
	f.Add("GET", "", "Bearer x", 200, "s-maxage=60", "", "", "")
	f.Add("GET", "", "Bearer x", 200, "proxy-revalidate, max-age=60", "", "", "")
	f.Add("GET", "", "", 302, "", "", "", "")
	f.Add("GET", "", "", 299, "must-understand, no-store, max-age=1", "", "", "")
	f.Add("GET", "", "", 200, "must-understand, no-store", "Accept", "", "")
	f.Add("GET", "", "", 200, "", "Accept, *", "", "")
	f.Add("GET", "", "", 200, "", "", "id=1", "")
	f.Add("GET", "", "", 204, "", "", "id=1", "Thu, 01 Jan 2099 00:00:00 GMT")
	f.Add("POST", "", "", 200, "public", "", "", "")
	f.Add("GET", "", "", 206, "public", "", "", "")
	f.Add("GET", "", "", 206, "max-age=60", "", "", "bytes 4-9/10")
	f.Add("GET", "", "", 206, "max-age=60", "", "", "bytes 4-9/*")
	f.Add("GET", "", "", 206, "max-age=60", "", "", "bytes 9-4/10")
	f.Fuzz(func(t *testing.T, method, reqCC, authz string, status int, respCC, vary, setCookie, expires string) {
		contentRange := ""
		if status == http.StatusPartialContent {
			contentRange, expires = expires, "" // reuse the input: a 206 gets a Content-Range instead
		}
		if status < 100 || status > 999 {
			t.Skip()
		}
		req := http.Header{}
		if reqCC != "" {
			req.Set("Cache-Control", reqCC)
		}
		if authz != "" {
			req.Set("Authorization", authz)
		}
		resp := http.Header{}
		for name, v := range map[string]string{"Cache-Control": respCC, "Vary": vary, "Set-Cookie": setCookie, "Expires": expires, "Content-Range": contentRange} {
			if v != "" {
				resp.Set(name, v)
			}
		}
		x := exchange(method, req, status, resp)
		d := x.Directives
		ok, why := Storable(x)
		if ok != (why == "") {
			t.Fatalf("Storable = %v, %q; want a reason exactly when refused", ok, why)
		}
		if !ok {
			return
		}
		explicit := d.MaxAge >= 0 || d.SMaxAge >= 0 || len(resp["Expires"]) > 0
		mu := hasMustUnderstand(d)
		switch {
		case method != http.MethodGet:
			t.Fatalf("stored a %q response", method)
		case x.Request.NoStore:
			t.Fatalf("stored despite request no-store %q", reqCC)
		case d.NoStore && !mu:
			t.Fatalf("stored despite no-store in %q", respCC)
		case d.NoStore && !understood(status):
			t.Fatalf("must-understand overrode no-store for status %d", status)
		case mu && !understood(status):
			t.Fatalf("stored must-understand with status %d it does not understand", status)
		case d.PrivatePresent:
			t.Fatalf("stored private response %q", respCC)
		case status < 200 || status == 304:
			t.Fatalf("stored status %d", status)
		case status == 206 && !validContentRange(contentRange):
			t.Fatalf("stored a 206 with Content-Range %q (§3.3)", contentRange)
		case VaryStar(resp):
			t.Fatalf("stored Vary %q", vary)
		case authz != "" && !d.Public && d.SMaxAge < 0 && !d.MustRevalidate:
			t.Fatalf("stored response to Authorization with %q (§3.5)", respCC)
		case !explicit && !d.Public && !heuristicallyCacheable(status):
			t.Fatalf("stored status %d with neither explicit freshness nor public (§3)", status)
		case setCookie != "" && !explicit && !d.Public:
			t.Fatalf("stored Set-Cookie with heuristic freshness only")
		}
	})
}

func TestHasExplicitFreshness(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"none", hdr(), false},
		{"max-age", hdr("Cache-Control", "max-age=0"), true},
		{"s-maxage", hdr("Cache-Control", "s-maxage=0"), true},
		{"Expires", hdr("Expires", httpDate(t0)), true},
		{"invalid Expires", hdr("Expires", "0"), true},
		{"public is not a lifetime", hdr("Cache-Control", "public"), false},
		{"invalid max-age", hdr("Cache-Control", "max-age=x"), false},
		{"Last-Modified is heuristic", hdr("Last-Modified", httpDate(t0)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := ParseResponse(tt.header)
			if got := hasExplicitFreshness(tt.header, d); got != tt.want {
				t.Errorf("hasExplicitFreshness(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// validContentRange is a reference check for one byte range of known length (RFC 9110
// §14.4): bytes SP 1*DIGIT "-" 1*DIGIT "/" 1*DIGIT, with first <= last < complete.
func validContentRange(v string) bool {
	m := contentRangeSyntax.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return false
	}
	first, err1 := strconv.ParseUint(m[1], 10, 63)
	last, err2 := strconv.ParseUint(m[2], 10, 63)
	complete, err3 := strconv.ParseUint(m[3], 10, 63)
	return err1 == nil && err2 == nil && err3 == nil && first <= last && last < complete
}

// A "+" before a number is not in the grammar, but ContentRange (strconv) tolerates it
// and the range means the same, so the reference tolerates it too.
var contentRangeSyntax = regexp.MustCompile(`^(?i:bytes) \+?([0-9]+)-\+?([0-9]+)/\+?([0-9]+)$`)
