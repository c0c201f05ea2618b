package policy

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestStoredHeader(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
		bug  string
	}{
		// RFC 9111 §3.1: store every field, unrecognized ones included, with these exceptions.
		{"end-to-end fields kept", hdr("Content-Type", "text/plain", "X-Custom", "1", "Etag", `"a"`),
			hdr("Content-Type", "text/plain", "X-Custom", "1", "Etag", `"a"`), ""},
		{"several field lines kept", hdr("Link", "<a>", "Link", "<b>"), hdr("Link", "<a>", "Link", "<b>"), ""},
		// RFC 9110 §7.6.1: hop-by-hop fields.
		{"hop-by-hop fields dropped",
			hdr("Connection", "close", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive", "Te", "trailers",
				"Trailer", "X-Sum", "Transfer-Encoding", "chunked", "Upgrade", "h2c",
				"Proxy-Authenticate", "Basic", "Proxy-Authorization", "Basic x", "Content-Type", "text/plain"),
			hdr("Content-Type", "text/plain"), ""},
		{"fields named by Connection dropped", hdr("Connection", "X-Hop, x-other", "X-Hop", "1", "X-Other", "2", "X-Keep", "3"),
			hdr("X-Keep", "3"), ""},
		{"Connection names on several lines", hdr("Connection", "X-A", "Connection", " X-B ", "X-A", "1", "X-B", "2"), hdr(), ""},
		// §5.2.2.7, §5.2.2.4: fields named by qualified private and no-cache.
		{"private field dropped", hdr("Cache-Control", `private="Set-Cookie"`, "Set-Cookie", "id=1", "Content-Type", "text/plain"),
			hdr("Cache-Control", `private="Set-Cookie"`, "Content-Type", "text/plain"), ""},
		{"private field names are case-insensitive", hdr("Cache-Control", `private="x-user, x-team"`, "X-User", "u", "X-Team", "t"),
			hdr("Cache-Control", `private="x-user, x-team"`), ""},
		{"no-cache field dropped", hdr("Cache-Control", `no-cache="X-Secret", max-age=60`, "X-Secret", "s", "X-Public", "p"),
			hdr("Cache-Control", `no-cache="X-Secret", max-age=60`, "X-Public", "p"), ""},
		{"unqualified no-cache drops nothing", hdr("Cache-Control", "no-cache", "Set-Cookie", "id=1"),
			hdr("Cache-Control", "no-cache", "Set-Cookie", "id=1"), ""},
		// The cache recomputes Age on each reuse.
		{"Age dropped", hdr("Age", "30", "Date", httpDate(t0)), hdr("Date", httpDate(t0)), ""},
		// §3.1: fields specific to the proxy used for forwarding MUST NOT be stored.
		{"Proxy-Authentication-Info dropped", hdr("Proxy-Authentication-Info", `nextnonce="x"`, "Content-Type", "text/plain"),
			hdr("Content-Type", "text/plain"),
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.in.Clone()
			d, _ := ParseResponse(tt.in)
			got := StoredHeader(tt.in, d)
			if !reflect.DeepEqual(tt.in, before) {
				t.Fatalf("StoredHeader changed its input to %q", tt.in)
			}
			verdict(t, tt.bug, reflect.DeepEqual(got, tt.want), "StoredHeader(%q) = %q, want %q", tt.in, got, tt.want)
		})
	}
}

func TestRefresh(t *testing.T) {
	stored := hdr("Content-Type", "text/plain", "Content-Length", "5", "Etag", `"a"`,
		"Cache-Control", "max-age=60", "Date", httpDate(t0), "X-Old", "kept")
	with := func(kv ...string) http.Header {
		h := stored.Clone()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
			} else {
				h[kv[i]] = []string{kv[i+1]}
			}
		}
		return h
	}
	tests := []struct {
		name  string
		fresh http.Header
		want  http.Header
		bug   string
	}{
		// RFC 9111 §3.2, §4.3.4: each field of the 304 replaces the stored one.
		{"empty 304 changes nothing", hdr(), stored, ""},
		{"304 updates freshness fields", hdr("Cache-Control", "max-age=600", "Date", httpDate(t0.Add(time.Minute)), "Expires", "0"),
			with("Cache-Control", "max-age=600", "Date", httpDate(t0.Add(time.Minute)), "Expires", "0"), ""},
		{"304 replaces every line of a field", hdr("Cache-Control", "public", "Cache-Control", "max-age=1"),
			func() http.Header {
				h := stored.Clone()
				h["Cache-Control"] = []string{"public", "max-age=1"}
				return h
			}(), ""},
		{"304 adds new fields", hdr("X-New", "n"), with("X-New", "n"), ""},
		{"Content-Length is not updated", hdr("Content-Length", "0", "Etag", `"a"`), stored, ""},
		{"Age is not stored", hdr("Age", "100"), stored, ""},
		{"hop-by-hop fields are not stored", hdr("Connection", "close", "Transfer-Encoding", "chunked", "Keep-Alive", "x"), stored, ""},
		{"fields named by Connection are not stored", hdr("Connection", "X-Hop", "X-Hop", "1", "X-Ok", "2"), with("X-Ok", "2"), ""},
		// §3.2: the exceptions of §3.1 apply to the new response too, including its
		// own qualified private directive.
		{"field named private by the 304 is not stored",
			hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Set-Cookie", "id=2"),
			with("Cache-Control", `private="Set-Cookie", max-age=60`),
			""},
		{"field named no-cache by the 304 is not stored",
			hdr("Cache-Control", `no-cache="Set-Cookie", max-age=60`, "Set-Cookie", "id=2"),
			with("Cache-Control", `no-cache="Set-Cookie", max-age=60`),
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, freshBefore := stored.Clone(), tt.fresh.Clone()
			got := Refresh(stored, tt.fresh)
			if !reflect.DeepEqual(stored, before) || !reflect.DeepEqual(tt.fresh, freshBefore) {
				t.Fatalf("Refresh changed its inputs")
			}
			verdict(t, tt.bug, reflect.DeepEqual(got, tt.want), "Refresh(%q) = %q, want %q", tt.fresh, got, tt.want)
		})
	}
}

func TestConnectionFields(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   map[string]bool
	}{
		{"none", hdr(), map[string]bool{}},
		{"canonicalized", hdr("Connection", "keep-alive, x-foo"), map[string]bool{"Keep-Alive": true, "X-Foo": true}},
		{"empty members skipped", hdr("Connection", " , close ,"), map[string]bool{"Close": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectionFields(tt.header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("connectionFields(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// TestRefreshFields names, field by field, which fields of a 304 replace the stored
// ones (RFC 9111 §3.2: all of them, with the exceptions listed).
func TestRefreshFields(t *testing.T) {
	tests := []struct {
		field    string
		replaced bool
		section  string
	}{
		{"Content-Length", false, "§3.2 names it"},
		{"Content-Encoding", false, "§3.2: the stored body depends on it"},
		{"Content-Range", false, "§3.2, §3.4: the stored body depends on it"},
		{"Content-Md5", false, "§3.2: a digest of the stored body"},
		{"Content-Digest", false, "§3.2, RFC 9530 §2: a digest of the stored body"},
		{"Repr-Digest", false, "§3.2, RFC 9530 §3: a digest of the stored representation"},
		{"Digest", false, "§3.2, RFC 3230: a digest of the stored representation"},
		{"Etag", false, "§4.3.4: the 304 was applied to the response its validator selected"},
		{"Transfer-Encoding", false, "§3.1: hop-by-hop, never stored"},
		{"Connection", false, "§3.1: hop-by-hop, never stored"},
		{"Keep-Alive", false, "§3.1: hop-by-hop, never stored"},
		{"Proxy-Authenticate", false, "§3.1: hop-by-hop, never stored"},
		{"Age", false, "§4.2.3: recomputed on every use"},
		{"Cache-Control", true, "§3.2"},
		{"Expires", true, "§3.2"},
		{"Date", true, "§3.2"},
		{"Last-Modified", true, "§3.2"},
		{"Content-Type", true, "§3.2: not among the exceptions"},
		{"Content-Location", true, "§3.2: not among the exceptions"},
		{"Content-Language", true, "§3.2: not among the exceptions"},
		{"Content-Disposition", true, "§3.2: not among the exceptions"},
		{"Content-Security-Policy", true, "§3.2: not among the exceptions"},
		{"Set-Cookie", true, "§3.2: not among the exceptions"},
		{"Vary", true, "§3.2: not among the exceptions"},
		{"X-Content-Foo", true, "§3.2: not among the exceptions"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			stored := hdr(tt.field, "old")
			got := Refresh(stored, hdr(tt.field, "new")).Get(tt.field)
			want := "old"
			if tt.replaced {
				want = "new"
			}
			if tt.field == "Age" || tt.field == "Connection" || tt.field == "Keep-Alive" ||
				tt.field == "Transfer-Encoding" || tt.field == "Proxy-Authenticate" {
				// never stored in the first place, so no "old" to keep
				got, want = Refresh(http.Header{}, hdr(tt.field, "new")).Get(tt.field), ""
			}
			if got != want {
				t.Errorf("Refresh: %s = %q, want %q (%s)", tt.field, got, want, tt.section)
			}
		})
	}
}
