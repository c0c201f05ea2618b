package policy

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		want      string // describe() of the directives
		wantField string
		bug       string
	}{
		{"absent Cache-Control has no directives", hdr(), "", "Cache-Control", ""},
		{"single directive", hdr("Cache-Control", "max-age=60"), "max-age=60", "Cache-Control", ""},
		{"every known response directive",
			hdr("Cache-Control", "public, no-store, no-transform, must-revalidate, proxy-revalidate, immutable, max-age=1, s-maxage=2, stale-while-revalidate=3, stale-if-error=4"),
			"public no-store no-transform must-revalidate proxy-revalidate immutable max-age=1 s-maxage=2 stale-while-revalidate=3 stale-if-error=4",
			"Cache-Control", ""},

		// RFC 9110 §5.3: several field lines are one comma-separated list.
		{"field lines are merged", hdr("Cache-Control", "max-age=60", "Cache-Control", "no-transform"),
			"no-transform max-age=60", "Cache-Control", ""},
		{"directives on a later line are not lost", hdr("Cache-Control", "public", "Cache-Control", "no-store"),
			"public no-store", "Cache-Control", ""},

		// RFC 9111 §4.2.1: with several values for one directive, use the first.
		{"first duplicate wins on one line", hdr("Cache-Control", "max-age=10, max-age=20"),
			"max-age=10", "Cache-Control", ""},
		{"first duplicate wins across lines", hdr("Cache-Control", "s-maxage=5", "Cache-Control", "s-maxage=50"),
			"s-maxage=5", "Cache-Control", ""},
		{"first stale-while-revalidate wins", hdr("Cache-Control", "stale-while-revalidate=1, stale-while-revalidate=9"),
			"stale-while-revalidate=1", "Cache-Control", ""},

		// RFC 9111 §5.2: a cache ignores what it cannot use; one bad directive must not hide the rest.
		{"bad max-age keeps no-store", hdr("Cache-Control", "max-age=abc, no-store"), "no-store", "Cache-Control", ""},
		{"bad max-age on its own line keeps the other line", hdr("Cache-Control", "max-age=abc", "Cache-Control", "private"),
			"private", "Cache-Control", ""},
		{"max-age without value is dropped", hdr("Cache-Control", "max-age, public"), "public", "Cache-Control", ""},
		{"negative max-age is dropped", hdr("Cache-Control", "max-age=-1, public"), "public", "Cache-Control", ""},
		{"fractional max-age is dropped", hdr("Cache-Control", "max-age=1.5, must-revalidate"), "must-revalidate", "Cache-Control", ""},
		{"unterminated quote drops only its own item", hdr("Cache-Control", "max-age=60, community=\"UCI"),
			"max-age=60", "Cache-Control", ""},
		{"empty list members are skipped", hdr("Cache-Control", ", ,max-age=60,,"), "max-age=60", "Cache-Control", ""},
		{"non-token directive name is skipped", hdr("Cache-Control", "max(age)=5, no-store"), "no-store", "Cache-Control", ""},

		// RFC 9111 §1.2.2: delta-seconds too large saturate at 2^31-1 or more, never wrap.
		{"huge max-age saturates", hdr("Cache-Control", "max-age=99999999999999999999"), "max-age=2147483647", "Cache-Control", ""},

		// RFC 9111 §5.2: recipients accept both token and quoted-string arguments.
		{"quoted max-age", hdr("Cache-Control", `max-age="60"`), "max-age=60", "Cache-Control", ""},
		{"quoted s-maxage", hdr("Cache-Control", `s-maxage="5", public`), "public s-maxage=5", "Cache-Control", ""},
		{"directive names are case-insensitive", hdr("Cache-Control", "Max-Age=60, NO-STORE"), "no-store max-age=60", "Cache-Control", ""},
		{"whitespace around items", hdr("Cache-Control", "  max-age=60 ,\tpublic  "), "public max-age=60", "Cache-Control", ""},
		{"escaped quote in an extension value", hdr("Cache-Control", `foo="a\"b", max-age=1`), `max-age=1 ext(foo=a"b)`, "Cache-Control", ""},
		{"unknown extensions are kept", hdr("Cache-Control", "max-age=60, community=UCI, foo"),
			"max-age=60 ext(community=UCI) ext(foo)", "Cache-Control", ""},
		{"must-understand is an extension", hdr("Cache-Control", "must-understand, no-store"),
			"no-store ext(must-understand)", "Cache-Control", ""},

		// RFC 9111 §5.2.2.4, §5.2.2.7: qualified no-cache and private name fields.
		{"unqualified no-cache", hdr("Cache-Control", "no-cache"), "no-cache", "Cache-Control", ""},
		{"no-cache with a field list", hdr("Cache-Control", `no-cache="Set-Cookie"`), "no-cache=[Set-Cookie]", "Cache-Control", ""},
		{"no-cache field list with comma inside quotes", hdr("Cache-Control", `no-cache="Set-Cookie, X-Foo", max-age=5`),
			"no-cache=[Set-Cookie X-Foo] max-age=5", "Cache-Control", ""},
		{"no-cache field names are canonicalized", hdr("Cache-Control", `no-cache="set-cookie"`), "no-cache=[Set-Cookie]", "Cache-Control", ""},
		{"no-cache token form", hdr("Cache-Control", "no-cache=Set-Cookie, max-age=5"), "no-cache=[Set-Cookie] max-age=5", "Cache-Control", ""},
		{"repeated no-cache lists merge", hdr("Cache-Control", `no-cache="A"`, "Cache-Control", `no-cache="B"`), "no-cache=[A B]", "Cache-Control", ""},
		{"private with a field list", hdr("Cache-Control", `private="Set-Cookie", max-age=60`), "private=[Set-Cookie] max-age=60", "Cache-Control", ""},
		{"private token form", hdr("Cache-Control", "private=X-User"), "private=[X-User]", "Cache-Control", ""},
		{"unqualified private", hdr("Cache-Control", "private"), "private", "Cache-Control", ""},

		// RFC 9213 §2.1: a reverse proxy obeys its targeted field instead of Cache-Control.
		{"CDN-Cache-Control beats Cache-Control",
			hdr("CDN-Cache-Control", "max-age=600", "Cache-Control", "no-store"), "max-age=600", "CDN-Cache-Control", ""},
		{"Surrogate-Control beats Cache-Control",
			hdr("Surrogate-Control", "max-age=300", "Cache-Control", "private"), "max-age=300", "Surrogate-Control", ""},
		{"CDN-Cache-Control beats Surrogate-Control",
			hdr("CDN-Cache-Control", "s-maxage=1", "Surrogate-Control", "max-age=2", "Cache-Control", "max-age=3"), "s-maxage=1", "CDN-Cache-Control", ""},
		{"targeted field replaces Cache-Control entirely, not merged",
			hdr("CDN-Cache-Control", "max-age=600", "Cache-Control", "private, s-maxage=5"), "max-age=600", "CDN-Cache-Control", ""},
		{"targeted field lines are merged too",
			hdr("CDN-Cache-Control", "max-age=600", "CDN-Cache-Control", "must-revalidate"), "must-revalidate max-age=600", "CDN-Cache-Control", ""},
		{"empty CDN-Cache-Control falls back to Cache-Control",
			hdr("CDN-Cache-Control", "", "Cache-Control", "max-age=60"), "max-age=60", "Cache-Control", ""},
		{"invalid CDN-Cache-Control falls back to Surrogate-Control",
			hdr("CDN-Cache-Control", "max-age=abc", "Surrogate-Control", "max-age=30", "Cache-Control", "max-age=60"), "max-age=30", "Surrogate-Control", ""},
		{"invalid targeted fields fall back to Cache-Control",
			hdr("CDN-Cache-Control", ",,", "Surrogate-Control", "max-age=", "Cache-Control", "no-store"), "no-store", "Cache-Control", ""},
		{"targeted field with no lines falls back", http.Header{"CDN-Cache-Control": {}, "Cache-Control": {"max-age=9"}},
			"max-age=9", "Cache-Control", ""},
		{"targeted field wins even when Cache-Control is absent", hdr("Surrogate-Control", "no-store"), "no-store", "Surrogate-Control", ""},
		// Edge Architecture 1.0: a Surrogate-Control directive with ";device" is only for that device.
		{"Surrogate-Control directive for this device", hdr("Surrogate-Control", "max-age=60;"+SurrogateToken, "Cache-Control", "no-store"),
			"max-age=60", "Surrogate-Control", ""},
		{"Surrogate-Control device token with whitespace", hdr("Surrogate-Control", "max-age=60 ; "+SurrogateToken), "max-age=60", "Surrogate-Control", ""},
		{"Surrogate-Control directive for another device is ignored", hdr("Surrogate-Control", "max-age=60;other-cdn, no-store"),
			"no-store", "Surrogate-Control", ""},
		{"Surrogate-Control only for other devices falls back", hdr("Surrogate-Control", "max-age=60;other-cdn", "Cache-Control", "max-age=5"),
			"max-age=5", "Cache-Control", ""},
		// net/http stores every field under its canonical key, so a response from the
		// origin carries "Cdn-Cache-Control", never the map key "CDN-Cache-Control".
		{"CDN-Cache-Control as net/http stores it", canonical("CDN-Cache-Control", "max-age=600", "Cache-Control", "no-store"),
			"max-age=600", "CDN-Cache-Control",
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, field := ParseResponse(tt.header)
			got := describe(d)
			verdict(t, tt.bug, got == tt.want && field == tt.wantField,
				"ParseResponse(%q) = %q from %s, want %q from %s", tt.header, got, field, tt.want, tt.wantField)
		})
	}
}

// canonical builds a header with Header.Add, which canonicalizes names as net/http does.
func canonical(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string // describeRequest() of the directives
	}{
		{"no directives", hdr(), ""},
		{"every known request directive",
			hdr("Cache-Control", "no-cache, no-store, no-transform, only-if-cached, max-age=1, max-stale=2, min-fresh=3, stale-if-error=4"),
			"no-cache no-store no-transform only-if-cached max-age=1 max-stale=2 min-fresh=3 stale-if-error=4"},

		// RFC 9111 §5.2.1.2: max-stale with no value accepts any staleness.
		{"max-stale without value", hdr("Cache-Control", "max-stale"), "max-stale"},
		{"max-stale with value", hdr("Cache-Control", "max-stale=30"), "max-stale=30"},
		{"max-stale with quoted value", hdr("Cache-Control", `max-stale="30"`), "max-stale=30"},
		{"max-stale with bad value is dropped", hdr("Cache-Control", "max-stale=abc, no-cache"), "no-cache"},
		{"first max-stale wins over a later bare one", hdr("Cache-Control", "max-stale=5, max-stale"), "max-stale=5"},
		{"first bare max-stale wins over a later value", hdr("Cache-Control", "max-stale, max-stale=5"), "max-stale"},
		{"huge max-stale saturates", hdr("Cache-Control", "max-stale=99999999999"), "max-stale=2147483647"},

		{"min-fresh", hdr("Cache-Control", "min-fresh=10"), "min-fresh=10"},
		{"first min-fresh wins", hdr("Cache-Control", "min-fresh=1, min-fresh=2"), "min-fresh=1"},
		{"min-fresh without value is dropped", hdr("Cache-Control", "min-fresh"), ""},
		{"only-if-cached", hdr("Cache-Control", "only-if-cached"), "only-if-cached"},
		{"max-age=0", hdr("Cache-Control", "max-age=0"), "max-age=0"},
		{"first max-age wins across lines", hdr("Cache-Control", "max-age=5", "Cache-Control", "max-age=10, no-cache"), "no-cache max-age=5"},
		{"bad directive keeps the rest", hdr("Cache-Control", "max-age=x, no-cache"), "no-cache"},
		{"names are case-insensitive", hdr("Cache-Control", "No-Cache, MAX-AGE=3"), "no-cache max-age=3"},
		{"unknown extensions are kept", hdr("Cache-Control", "foo=bar, baz"), "ext(foo=bar) ext(baz)"},

		// RFC 9111 §5.4: Pragma: no-cache means Cache-Control: no-cache only when
		// Cache-Control is absent.
		{"Pragma no-cache without Cache-Control", hdr("Pragma", "no-cache"), "no-cache"},
		{"Pragma no-cache is case-insensitive", hdr("Pragma", "No-Cache"), "no-cache"},
		{"Pragma no-cache in a list", hdr("Pragma", "foo, no-cache"), "no-cache"},
		{"Pragma no-cache ignored with Cache-Control", hdr("Pragma", "no-cache", "Cache-Control", "max-age=5"), "max-age=5"},
		{"other Pragma directives mean nothing", hdr("Pragma", "foo=no-cache"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeRequest(ParseRequest(tt.header))
			if got != tt.want {
				t.Errorf("ParseRequest(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestSplitDirectives(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string // name[=value] items joined with "|"
	}{
		{"plain list", []string{"a, b=1"}, "a|b=1"},
		{"comma inside quotes", []string{`a="x, y", b`}, "a=x, y|b"},
		{"escaped quote inside quotes", []string{`a="x\"y", b`}, `a=x"y|b`},
		{"unterminated quote drops the rest of the line", []string{`a, b="x, c`}, "a"},
		{"next line starts fresh after a bad quote", []string{`b="x`, "c"}, "c"},
		{"text after a closing quote is malformed", []string{`a="x"y, b`}, "b"},
		{"empty value", []string{"a="}, "a="},
		{"empty quoted value", []string{`a=""`}, "a="},
		{"names lower-cased", []string{"A=B"}, "a=B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, d := range splitDirectives(tt.in) {
				s := d.name
				if d.hasVal {
					s += "=" + d.value
				}
				parts = append(parts, s)
			}
			if got := strings.Join(parts, "|"); got != tt.want {
				t.Errorf("splitDirectives(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range [][3]string{
		{"max-age=60", "", ""},
		{"max-age=abc, no-store", "", ""},
		{`no-cache="Set-Cookie, X-Foo", private`, "", ""},
		{`foo="a\"b", max-age=1`, "", ""},
		{"no-cache=a, no-store", "", ""},
		{"must-understand, no-store", "", ""},
		{"s-maxage=99999999999", "", ""},
		{`private="a`, "", ""},
		{"no-store", "max-age=600", "max-age=300"},
		{"private", "", "max-age=10"},
		{"public", ",,", "max-age="},
		{"no-store", `max-age="10"`, ""},
		{"no-store", "max-age=10, private=?0", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, cc, cdn, surrogate string) {
		h := http.Header{"Cache-Control": {cc}}
		if cdn != "" {
			h["Cdn-Cache-Control"] = []string{cdn} // as net/http keys it
		}
		if surrogate != "" {
			h["Surrogate-Control"] = []string{surrogate}
		}
		d, field := ParseResponse(h) // must not panic
		switch field {
		case "CDN-Cache-Control", "Surrogate-Control", "Cache-Control":
		default:
			t.Fatalf("ParseResponse field = %q, want one of the three", field)
		}
		if d.MaxAge < -1 || d.SMaxAge < -1 || d.StaleIfError < -1 || d.StaleWhileRevalidate < -1 {
			t.Fatalf("ParseResponse gave negative delta-seconds: %s", describe(d))
		}
		if (len(d.NoCache) > 0 && !d.NoCachePresent) || (len(d.Private) > 0 && !d.PrivatePresent) {
			t.Fatalf("field list without its directive: %s", describe(d))
		}

		// A response with no-store is never storable (§3), unless must-understand overrides it.
		if d.NoStore && !hasMustUnderstand(d) {
			if ok, _ := Storable(exchange(http.MethodGet, nil, http.StatusOK, h)); ok {
				t.Fatalf("Storable with %s = true, want false", describe(d))
			}
		}
		if life, _ := Lifetime(http.StatusOK, h, d, t0); life < 0 {
			t.Fatalf("Lifetime = %v, want >= 0", life)
		}

		// Cache-Control alone: one line's junk never hides a valid directive on another
		// line, the first duplicate wins, and repeating a line changes nothing.
		only := func(lines ...string) *Directives {
			d, _ := ParseResponse(http.Header{"Cache-Control": lines})
			return d
		}
		if !only(cc, "no-store").NoStore {
			t.Fatalf("Cache-Control %q then no-store lost no-store", cc)
		}
		if got := only("max-age=7", cc).MaxAge; got != 7 {
			t.Fatalf("Cache-Control max-age=7 then %q: max-age = %d, want 7", cc, got)
		}
		once, twice := only(cc), only(cc, cc)
		once.Extensions, twice.Extensions = nil, nil // repeated extensions are kept, by design
		if a, b := describe(once), describe(twice); a != b {
			t.Fatalf("Cache-Control %q once = %q, twice = %q", cc, a, b)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"max-stale", ""},
		{"max-stale=30, min-fresh=5", ""},
		{"only-if-cached, max-age=0", ""},
		{"max-age=x, no-cache", ""},
		{"", "no-cache"},
		{`foo="a,b"`, "No-Cache"},
		{"stale-if-error=60", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cc, pragma string) {
		h := http.Header{"Cache-Control": {cc}, "Pragma": {pragma}}
		d := ParseRequest(h) // must not panic
		if d.MaxAge < -1 || d.MaxStale < -1 || d.MinFresh < -1 || d.StaleIfError < -1 {
			t.Fatalf("ParseRequest(%q) gave negative delta-seconds: %s", cc, describeRequest(d))
		}
		if !d.MaxStaleSet && d.MaxStale != -1 {
			t.Fatalf("ParseRequest(%q): max-stale value %d without the directive", cc, d.MaxStale)
		}
		if got := ParseRequest(http.Header{"Cache-Control": {cc}}); describeRequest(got) != describeRequest(d) {
			t.Fatalf("Pragma %q changed a request with Cache-Control %q", pragma, cc)
		}
		if !ParseRequest(http.Header{"Cache-Control": {cc, "only-if-cached"}}).OnlyIfCached {
			t.Fatalf("Cache-Control %q then only-if-cached lost only-if-cached", cc)
		}
		if got := ParseRequest(http.Header{"Cache-Control": {"min-fresh=7", cc}}).MinFresh; got != 7 {
			t.Fatalf("Cache-Control min-fresh=7 then %q: min-fresh = %d, want 7", cc, got)
		}
		if !ParseRequest(http.Header{"Pragma": {pragma, "no-cache"}}).NoCache {
			t.Fatalf("Pragma %q then no-cache without Cache-Control: no-cache lost", pragma)
		}
	})
}

// TestTargetedFieldKeys holds each targeted field's key to net/http's spelling of its
// name: a key that differs would never be found in a header map.
func TestTargetedFieldKeys(t *testing.T) {
	for _, f := range targetedFields {
		if want := http.CanonicalHeaderKey(f.name); f.key != want {
			t.Errorf("%s keyed as %q, want %q", f.name, f.key, want)
		}
	}
}
