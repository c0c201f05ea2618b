package policy

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestVaryNames(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   []string
	}{
		{"absent", hdr(), nil},
		{"empty field", hdr("Vary", ""), nil},
		{"one name", hdr("Vary", "Accept-Encoding"), []string{"Accept-Encoding"}},
		{"names are canonicalized", hdr("Vary", "accept-encoding, USER-AGENT"), []string{"Accept-Encoding", "User-Agent"}},
		{"whitespace is trimmed", hdr("Vary", " Accept ,\tOrigin "), []string{"Accept", "Origin"}},
		{"several field lines", hdr("Vary", "Accept", "Vary", "Accept-Language"), []string{"Accept", "Accept-Language"}},
		{"duplicates dropped, first order kept", hdr("Vary", "Origin, Accept, origin", "Vary", "ACCEPT"), []string{"Origin", "Accept"}},
		{"empty members skipped", hdr("Vary", ", ,Accept,"), []string{"Accept"}},
		{"star", hdr("Vary", "*"), []string{"*"}},
		{"star among names", hdr("Vary", "Accept, *"), []string{"Accept", "*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VaryNames(tt.header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("VaryNames(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestVaryStar(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"absent", hdr(), false},
		{"names only", hdr("Vary", "Accept, Origin"), false},
		{"star alone", hdr("Vary", "*"), true},
		{"star with whitespace", hdr("Vary", " * "), true},
		{"star among names", hdr("Vary", "Accept, *"), true},
		{"star on a later line", hdr("Vary", "Accept", "Vary", "*"), true},
		{"double star is not star", hdr("Vary", "**"), false},
		{"star inside a name is not star", hdr("Vary", "X-*"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VaryStar(tt.header); got != tt.want {
				t.Errorf("VaryStar(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestSecondaryKey(t *testing.T) {
	ae := []string{"Accept-Encoding"}
	tests := []struct {
		name      string
		names     []string
		a, b      http.Header
		wantEqual bool
		bug       string
	}{
		{"identical values", ae, hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "gzip"), true, ""},
		{"no Vary names: every request matches", nil, hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), true, ""},
		{"unnamed fields do not count", ae, hdr("Accept-Encoding", "gzip", "User-Agent", "a"), hdr("Accept-Encoding", "gzip", "User-Agent", "b"), true, ""},
		{"different values differ", ae, hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), false, ""},
		// RFC 9111 §4.1: normalization may add or remove whitespace and combine field lines.
		{"whitespace after comma", ae, hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "gzip,br"), true, ""},
		{"surrounding whitespace", ae, hdr("Accept-Encoding", "  gzip\t"), hdr("Accept-Encoding", "gzip"), true, ""},
		{"runs of inner whitespace", ae, hdr("Accept-Encoding", "gzip;  q=1"), hdr("Accept-Encoding", "gzip; q=1"), true, ""},
		{"field lines combine", ae, hdr("Accept-Encoding", "gzip", "Accept-Encoding", "br"), hdr("Accept-Encoding", "gzip, br"), true, ""},
		{"order of members matters", ae, hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "br, gzip"), false, ""},
		{"value case matters", ae, hdr("Accept-Encoding", "GZIP"), hdr("Accept-Encoding", "gzip"), false, ""},
		{"whitespace inside a token is not removable", ae, hdr("Accept-Encoding", "gz ip"), hdr("Accept-Encoding", "gzip"), false, ""},
		// An absent field matches only an absent field.
		{"absent vs empty differ", ae, hdr(), hdr("Accept-Encoding", ""), false, ""},
		{"absent vs absent", ae, hdr(), hdr("User-Agent", "x"), true, ""},
		{"empty vs empty", ae, hdr("Accept-Encoding", ""), hdr("Accept-Encoding", " "), true, ""},
		{"absent vs present differ", ae, hdr(), hdr("Accept-Encoding", "gzip"), false, ""},
		{"which of two names is present", []string{"Accept", "Origin"}, hdr("Accept", "x"), hdr("Origin", "x"), false, ""},
		{"value moved between names", []string{"Accept", "Origin"}, hdr("Accept", "x", "Origin", "y"), hdr("Accept", "y", "Origin", "x"), false, ""},
		{"both names equal", []string{"Accept", "Origin"}, hdr("Accept", "x", "Origin", "y"), hdr("Origin", "y", "Accept", "x"), true, ""},
		// RFC 9110 §5.6.3: HTTP whitespace is SP and HTAB only.
		{"no-break space is not whitespace", ae, hdr("Accept-Encoding", "a\u00a0b"), hdr("Accept-Encoding", "a b"), false,
			"RFC 9111 §4.1 / RFC 9110 §5.6.3: SecondaryKey normalizes with strings.Fields, which also treats U+00A0 and U+0085 as whitespace, so \"a\\u00a0b\" and \"a b\" select the same variant"},
		// §4.1 allows removing whitespace only where the field's syntax allows it; inside a
		// quoted-string it is content.
		{"whitespace inside a quoted string is content", []string{"X-Name"}, hdr("X-Name", `"a  b"`), hdr("X-Name", `"a b"`), false,
			"RFC 9111 §4.1: SecondaryKey collapses whitespace inside quoted-strings, so X-Name: \"a  b\" and X-Name: \"a b\" select the same variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := SecondaryKey(tt.a, tt.names), SecondaryKey(tt.b, tt.names)
			verdict(t, tt.bug, (ka == kb) == tt.wantEqual,
				"SecondaryKey(%q) = %q, SecondaryKey(%q) = %q; want equal %v", tt.a, ka, tt.b, kb, tt.wantEqual)
		})
	}
}

// normalized is a reference for SecondaryKey: per name, absent, or its list members
// with SP/HTAB trimmed and runs of SP/HTAB collapsed (RFC 9110 §5.6.3 whitespace).
func normalized(h http.Header, names []string) [][]string {
	var out [][]string
	for _, n := range names {
		vals, ok := h[n]
		if !ok {
			out = append(out, nil)
			continue
		}
		members := []string{n + ":"} // never nil, unlike an absent field
		for _, line := range vals {
			for _, m := range strings.Split(line, ",") {
				members = append(members, strings.Join(strings.FieldsFunc(m, func(r rune) bool { return r == ' ' || r == '\t' }), " "))
			}
		}
		out = append(out, members)
	}
	return out
}

func FuzzSecondaryKey(f *testing.F) {
	f.Add("Accept-Encoding", "gzip, br", "", "gzip,br", "")
	f.Add("Accept-Encoding", "gzip", "br", "gzip, br", "")
	f.Add("Accept, Origin", "x", "", "", "x")
	f.Add("accept-encoding", "", "", " ", "")
	f.Add("*", "a", "b", "a", "b")
	f.Add("Accept-Encoding, Accept-Encoding", "a  b", "", "a b", "")
	f.Fuzz(func(t *testing.T, vary, a1, a2, b1, b2 string) {
		for _, v := range []string{a1, a2, b1, b2} {
			if !validHeaderValue(v) {
				t.Skip() // net/http never delivers such a value
			}
		}
		names := VaryNames(http.Header{"Vary": {vary}})
		for _, n := range names {
			if n == "" || strings.TrimSpace(n) != n {
				t.Fatalf("VaryNames(%q) has name %q", vary, n)
			}
		}
		build := func(first, second string) http.Header {
			h := http.Header{}
			for i, n := range names {
				switch {
				case i%3 == 0 && first != "":
					h[n] = []string{first}
				case i%3 == 1:
					h[n] = []string{first, second}
				case i%3 == 2 && second != "":
					h[n] = []string{second}
				}
			}
			return h
		}
		a, b := build(a1, a2), build(b1, b2)
		ka, kb := SecondaryKey(a, names), SecondaryKey(b, names)
		if ka2 := SecondaryKey(a.Clone(), names); ka2 != ka {
			t.Fatalf("SecondaryKey of identical headers %q differs: %q vs %q", a, ka, ka2)
		}
		same := reflect.DeepEqual(normalized(a, names), normalized(b, names))
		if (ka == kb) != same {
			t.Fatalf("Vary %q: SecondaryKey(%q) = %q, SecondaryKey(%q) = %q; want equal %v", vary, a, ka, b, kb, same)
		}
	})
}
