package policy

import (
	"net/http"
	"reflect"
	"sort"
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
	ua := []string{"User-Agent"}
	const innerSpaceBug = ""
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
		{"a subset differs", ae, hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "gzip, br"), false, ""},
		// RFC 9111 §4.1: normalization may add or remove whitespace where the syntax
		// allows it, and combine field lines.
		{"whitespace after comma", ae, hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "gzip,br"), true, ""},
		{"surrounding whitespace", ae, hdr("Accept-Encoding", "  gzip\t"), hdr("Accept-Encoding", "gzip"), true, ""},
		{"whitespace around parameters", ae, hdr("Accept-Encoding", "gzip ;  q=1"), hdr("Accept-Encoding", "gzip;q=1"), true, ""},
		{"field lines combine", ae, hdr("Accept-Encoding", "gzip", "Accept-Encoding", "br"), hdr("Accept-Encoding", "gzip, br"), true, ""},
		{"field lines combine for other fields", ua, hdr("User-Agent", "a", "User-Agent", "b"), hdr("User-Agent", "a,b"), true, ""},
		// §4.1: reordering where order is not significant, case-folding where values are
		// case-insensitive; Accept-* lists weigh members with q= (RFC 9110 §12.5).
		{"Accept-Encoding order does not matter", ae, hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "br, gzip"), true, ""},
		{"Accept-Encoding case does not matter", ae, hdr("Accept-Encoding", "GZIP"), hdr("Accept-Encoding", "gzip"), true, ""},
		{"Accept-Language tags are case-insensitive", []string{"Accept-Language"}, hdr("Accept-Language", "en-US, fr"), hdr("Accept-Language", "fr, en-us"), true, ""},
		// RFC 9110 §12.5.3: Accept-Encoding is keyed by the set of codings it accepts.
		{"Accept-Encoding weights above 0 do not matter", ae, hdr("Accept-Encoding", "gzip;q=1, br;q=0.5"), hdr("Accept-Encoding", "gzip;q=0.5, br;q=1"), true, ""},
		{"Accept-Encoding q=0 excludes", ae, hdr("Accept-Encoding", "gzip, br;q=0"), hdr("Accept-Encoding", "gzip"), true, ""},
		{"Accept-Encoding q=0 differs from accepted", ae, hdr("Accept-Encoding", "gzip, br;q=0"), hdr("Accept-Encoding", "gzip, br"), false, ""},
		{"Chrome and Firefox accept the same", ae, hdr("Accept-Encoding", chromeAE), hdr("Accept-Encoding", firefoxAE), true, ""},
		{"Safari lacks zstd", ae, hdr("Accept-Encoding", safariAE), hdr("Accept-Encoding", chromeAE), false, ""},
		{"order matters for other fields", []string{"X-List"}, hdr("X-List", "a, b"), hdr("X-List", "b, a"), false, ""},
		{"case matters for other fields", ua, hdr("User-Agent", "Bot"), hdr("User-Agent", "bot"), false, ""},
		// An absent field matches only an absent field.
		{"absent vs empty differ", ae, hdr(), hdr("Accept-Encoding", ""), false, ""},
		{"absent vs absent", ae, hdr(), hdr("User-Agent", "x"), true, ""},
		{"empty vs blank", ae, hdr("Accept-Encoding", ""), hdr("Accept-Encoding", " "), true, ""},
		{"absent vs present differ", ae, hdr(), hdr("Accept-Encoding", "gzip"), false, ""},
		{"which of two names is present", []string{"Accept", "Origin"}, hdr("Accept", "x"), hdr("Origin", "x"), false, ""},
		{"value moved between names", []string{"Accept", "Origin"}, hdr("Accept", "x", "Origin", "y"), hdr("Accept", "y", "Origin", "x"), false, ""},
		{"both names equal", []string{"Accept", "Origin"}, hdr("Accept", "x", "Origin", "y"), hdr("Origin", "y", "Accept", "x"), true, ""},
		// User-Agent = product *( RWS ( product / comment ) ): RWS cannot be removed.
		{"required whitespace between products", ua, hdr("User-Agent", "curl/8 libfoo/1"), hdr("User-Agent", "curl/8libfoo/1"), false, innerSpaceBug},
		{"whitespace inside a quoted string is content", []string{"X-Name"}, hdr("X-Name", `"a b"`), hdr("X-Name", `"ab"`), false, innerSpaceBug},
		// RFC 9110 §5.6.3: HTTP whitespace is SP and HTAB only.
		{"no-break space is not whitespace", ua, hdr("User-Agent", "a\u00a0b"), hdr("User-Agent", "ab"), false,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := SecondaryKey(tt.a, tt.names), SecondaryKey(tt.b, tt.names)
			verdict(t, tt.bug, (ka == kb) == tt.wantEqual,
				"SecondaryKey(%q) = %q, SecondaryKey(%q) = %q; want equal %v", tt.a, ka, tt.b, kb, tt.wantEqual)
		})
	}
}

// unorderedFields are the request fields whose list order and token case carry no
// meaning (RFC 9110 §12.5.3, §12.5.4 and Accept-Charset), so §4.1 lets them be normalized.
var unorderedFields = map[string]bool{"Accept-Language": true, "Accept-Charset": true}

// normalized is a reference for SecondaryKey as RFC 9111 §4.1 allows: per name, absent,
// or its list members with SP/HTAB trimmed, runs of SP/HTAB made one space and the
// space next to ';' and '=' dropped (parameter syntax, RFC 9110 §5.6.6); for
// unorderedFields also case-folded and sorted.
func normalized(h http.Header, names []string) [][]string {
	var out [][]string
	for _, n := range names {
		vals, ok := h[n]
		if !ok {
			out = append(out, nil)
			continue
		}
		if n == "Accept-Encoding" {
			out = append(out, append([]string{n + ":"}, acceptedReference(vals)...))
			continue
		}
		var members []string
		for _, line := range vals {
			for _, m := range strings.Split(line, ",") {
				members = append(members, joinParams(strings.Join(strings.FieldsFunc(m, httpSpace), " ")))
			}
		}
		if unorderedFields[n] {
			for i := range members {
				members[i] = strings.ToLower(members[i])
			}
			sort.Strings(members)
		}
		out = append(out, append([]string{n + ":"}, members...)) // never nil, unlike an absent field
	}
	return out
}

// acceptedReference is Accept-Encoding's part of the reference: its meaning is pinned
// by TestAcceptEncoding and FuzzAcceptEncoding, so here it only has to be the same set.
func acceptedReference(vals []string) []string {
	return []string{ParseAcceptEncoding(http.Header{"Accept-Encoding": vals}).Key()}
}

func httpSpace(r rune) bool { return r == ' ' || r == '\t' }

// joinParams drops the single spaces next to ';' and '=' in s.
func joinParams(s string) string {
	r := strings.NewReplacer(" ;", ";", "; ", ";", " =", "=", "= ", "=")
	for t := r.Replace(s); t != s; t = r.Replace(s) {
		s = t
	}
	return s
}

func FuzzSecondaryKey(f *testing.F) {
	f.Add("Accept-Encoding", "gzip, br", "", "gzip,br", "")
	f.Add("Accept-Encoding", "gzip", "br", "br, GZIP", "")
	f.Add("Accept, Origin", "x", "", "", "x")
	f.Add("accept-encoding", "", "", " ", "")
	f.Add("*", "a", "b", "a", "b")
	f.Add("User-Agent, User-Agent", "a  b", "", "a b", "")
	f.Add("X-List, Accept-Language, Cookie", "en;q=0.5, fr", "a=1", "fr, EN;q=0.5", "a=1")
	f.Add("User-Agent", "curl/8 libfoo/1", "", "curl/8libfoo/1", "") // a space inside a member counts
	f.Add("X-Param", "a ; b = c", "", "a;b=c", "")                   // around ';' and '=' it does not
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
		if same := reflect.DeepEqual(normalized(a, names), normalized(b, names)); (ka == kb) != same {
			t.Fatalf("Vary %q: SecondaryKey(%q) = %q, SecondaryKey(%q) = %q; want equal %v", vary, a, ka, b, kb, same)
		}
	})
}
