package policy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dunglas/httpsfv"
)

func TestParseTargeted(t *testing.T) {
	const invalid = "(ignored)"
	tests := []struct {
		name  string
		lines []string
		want  string // describe() of the directives, or invalid
	}{
		// RFC 9213 §2.1: a targeted field is a Dictionary; directives map to Integers
		// (max-age), Booleans (directives without a value) and Strings (field lists).
		{"Integer max-age", []string{"max-age=600"}, "max-age=600"},
		{"every Integer directive", []string{"max-age=1, s-maxage=2, stale-while-revalidate=3, stale-if-error=4"},
			"max-age=1 s-maxage=2 stale-while-revalidate=3 stale-if-error=4"},
		{"every Boolean directive", []string{"public, no-store, no-transform, must-revalidate, proxy-revalidate, immutable, must-understand"},
			"public no-store no-transform must-revalidate proxy-revalidate immutable ext(must-understand)"},
		{"explicit Boolean true", []string{"no-store=?1"}, "no-store"},
		{"Boolean false is absent", []string{"no-store=?0, max-age=60"}, "max-age=60"},
		{"unqualified no-cache", []string{"no-cache"}, "no-cache"},
		{"no-cache with a String of field names", []string{`no-cache="Set-Cookie, x-foo"`}, "no-cache=[Set-Cookie X-Foo]"},
		{"private with a String", []string{`private="Set-Cookie", max-age=60`}, "private=[Set-Cookie] max-age=60"},
		{"private=?0 is absent", []string{`private=?0, max-age=60`}, "max-age=60"},
		// RFC 9651 §4.2: field lines are combined into one value.
		{"field lines combine", []string{"max-age=600", "must-revalidate"}, "must-revalidate max-age=600"},
		// RFC 9213 §2.1: parameters on directives are ignored.
		{"parameters are ignored", []string{"max-age=60;foo=bar, no-store;x"}, "no-store max-age=60"},
		// RFC 9651 §4.2.2: a repeated key keeps its last value.
		{"last duplicate wins", []string{"max-age=10, max-age=20"}, "max-age=20"},
		// RFC 9111 §1.2.2: delta-seconds too large saturate.
		{"huge Integer saturates", []string{"max-age=999999999999999"}, "max-age=2147483647"},
		// Unknown directives are kept as extensions, whatever their type.
		{"unknown directives are extensions", []string{`foo="a b", bar=1.5, baz, qux=(a b);p=1`},
			`ext(foo="a b") ext(bar=1.5) ext(baz) ext(qux=(a b))`},
		// RFC 9213 §3.1: a field of only unknown directives still replaces Cache-Control.
		{"none is a valid field", []string{"none"}, "ext(none)"},

		// RFC 9213 §2.1: a known directive with a value of the wrong type, or a field
		// that fails to parse as a Dictionary, makes the whole field ignored (§2.2).
		{"String max-age", []string{`max-age="10"`}, invalid},
		{"Token max-age", []string{"max-age=abc"}, invalid},
		{"Decimal max-age", []string{"max-age=10.0"}, invalid},
		{"negative max-age", []string{"max-age=-1"}, invalid},
		{"Boolean max-age", []string{"max-age"}, invalid},
		{"Inner List max-age", []string{"max-age=(60)"}, invalid},
		{"String s-maxage", []string{`s-maxage="5", no-store`}, invalid},
		{"Integer no-store", []string{"no-store=1"}, invalid},
		{"String public", []string{`public="yes"`}, invalid},
		{"Token private", []string{"private=Set-Cookie"}, invalid},
		{"Integer no-cache", []string{"no-cache=5"}, invalid},
		{"Inner List no-cache", []string{`no-cache=("a")`}, invalid},
		{"upper-case key", []string{"Max-Age=60"}, invalid},
		{"spaces around =", []string{"max-age = 60"}, invalid},
		{"trailing comma", []string{"max-age=60,"}, invalid},
		{"empty member", []string{"max-age=60,,no-store"}, invalid},
		{"Integer with 16 digits", []string{"max-age=1000000000000000"}, invalid},
		{"unterminated String", []string{`private="Set-Cookie`}, invalid},
		{"non-ASCII", []string{"max-age=60, ünknown"}, invalid},
		{"Cache-Control quoting of a field list", []string{`no-cache=Set-Cookie, max-age=5`}, invalid},
		// RFC 9213 §2.2: an empty field is ignored.
		{"empty field", []string{""}, invalid},
		{"blank field", []string{"  "}, invalid},
		{"empty line among others", []string{"", "max-age=60"}, invalid},
		{"no field lines", nil, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := ParseTargeted(tt.lines)
			got := invalid
			if ok {
				got = describe(d)
			}
			if got != tt.want {
				t.Errorf("ParseTargeted(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

func TestParseResponseTargeted(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		want      string
		wantField string
	}{
		// RFC 9213 §2.2: an ignored targeted field leaves Cache-Control (and Expires) to apply.
		{"String max-age falls back to Cache-Control", canonical("CDN-Cache-Control", `max-age="10"`, "Cache-Control", "max-age=60"),
			"max-age=60", "Cache-Control"},
		{"invalid CDN-Cache-Control falls back to Surrogate-Control", canonical("CDN-Cache-Control", "max-age=1.5", "Surrogate-Control", "max-age=30"),
			"max-age=30", "Surrogate-Control"},
		{"valid CDN-Cache-Control replaces Cache-Control", canonical("CDN-Cache-Control", "max-age=600", "Cache-Control", "no-store"),
			"max-age=600", "CDN-Cache-Control"},
		// Surrogate-Control keeps its own syntax, which a Dictionary would reject.
		{"Surrogate-Control is not a Structured Field", canonical("Surrogate-Control", `max-age="10", Max-Age=5`),
			"max-age=10", "Surrogate-Control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, field := ParseResponse(tt.header)
			if got := describe(d); got != tt.want || field != tt.wantField {
				t.Errorf("ParseResponse(%q) = %q from %s, want %q from %s", tt.header, got, field, tt.want, tt.wantField)
			}
		})
	}
}

// knownTypeOK is a reference for the value types RFC 9213 §2.1 infers for the
// directives ParseTargeted knows.
func knownTypeOK(name string, m httpsfv.Member) bool {
	item, ok := m.(httpsfv.Item)
	switch name {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		n, isInt := item.Value.(int64)
		return ok && isInt && n >= 0
	case "no-cache", "private":
		_, isBool := item.Value.(bool)
		_, isString := item.Value.(string)
		return ok && (isBool || isString)
	case "must-revalidate", "no-store", "no-transform", "proxy-revalidate", "public", "immutable", "must-understand":
		_, isBool := item.Value.(bool)
		return ok && isBool
	}
	return true
}

func FuzzParseTargeted(f *testing.F) {
	// testdata/fuzz/FuzzParseTargeted holds more seeds.
	for _, s := range []string{
		"max-age=600", `max-age="10"`, "max-age=10.0", "no-store=?0, max-age=60", `private="Set-Cookie, X-Foo"`,
		"max-age=60;foo=bar", "none", `foo=(a "b" ?1);p, bar=:aGk=:`, "max-age=60,", "Max-Age=60", "",
	} {
		f.Add(s, "")
		f.Add(s, "must-revalidate")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		lines := []string{first}
		if second != "" {
			lines = append(lines, second)
		}
		d, ok := ParseTargeted(lines)
		dict, err := httpsfv.UnmarshalDictionary(lines)
		// The grammar decides: valid exactly when the value is a non-empty Dictionary
		// (RFC 9651 §3.2) whose known directives have their inferred types (RFC 9213 §2.1).
		want := err == nil && len(dict.Names()) > 0
		if want {
			for _, name := range dict.Names() {
				m, _ := dict.Get(name)
				want = want && knownTypeOK(name, m)
			}
		}
		if ok != want {
			t.Fatalf("ParseTargeted(%q) ok = %v, want %v (parse error %v)", lines, ok, want, err)
		}
		if !ok {
			return
		}
		if d.MaxAge < -1 || d.SMaxAge < -1 || d.StaleIfError < -1 || d.StaleWhileRevalidate < -1 {
			t.Fatalf("ParseTargeted(%q) = %q, a negative delta-seconds", lines, describe(d))
		}
		// Round trip: the Dictionary serialized (RFC 9651 §4.1) reads the same.
		s, err := httpsfv.Marshal(dict)
		if err != nil {
			t.Fatalf("Marshal of the Dictionary of %q: %v", lines, err)
		}
		d2, ok2 := ParseTargeted([]string{s})
		if !ok2 || describe(d2) != describe(d) {
			t.Fatalf("ParseTargeted(%q) = %q, but its serialization %q gives %q, %v", lines, describe(d), s, describe(d2), ok2)
		}
		// As CDN-Cache-Control, the field is the one that applies (RFC 9213 §2.2).
		if _, field := ParseResponse(http.Header{"Cdn-Cache-Control": lines, "Cache-Control": {"no-store"}}); field != "CDN-Cache-Control" {
			t.Fatalf("ParseResponse with valid CDN-Cache-Control %q used %s", strings.Join(lines, ", "), field)
		}
	})
}
