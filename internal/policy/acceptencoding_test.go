package policy

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// Accept-Encoding as current clients send it (2025-2026 releases).
const (
	chromeAE  = "gzip, deflate, br, zstd"   // Chrome 123+, Edge
	firefoxAE = "gzip, deflate, br, zstd"   // Firefox 126+
	safariAE  = "gzip, deflate, br"         // Safari 17, 18 (macOS and iOS)
	curlAE    = "deflate, gzip, br, zstd"   // curl 8 --compressed (plain curl sends none)
	goAE      = "gzip"                      // Go's net/http client
	oldIEAE   = "gzip, deflate"             // older clients without br
	starAE    = "*"                         // some crawlers
	noIdentAE = "gzip;q=1.0, identity; q=0" // a client that refuses identity
)

func TestAcceptEncodingQ(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		coding string
		want   float64
	}{
		{"a listed coding is accepted (§12.5.3)", hdr("Accept-Encoding", "gzip"), "gzip", 1},
		{"an unlisted coding is not", hdr("Accept-Encoding", "gzip"), "br", 0},
		{"identity is acceptable unless excluded", hdr("Accept-Encoding", "gzip"), "identity", 1},
		{"an empty field accepts identity only", hdr("Accept-Encoding", ""), "identity", 1},
		{"an empty field accepts no coding", hdr("Accept-Encoding", ""), "gzip", 0},
		{"q=0 means not acceptable", hdr("Accept-Encoding", "gzip;q=0"), "gzip", 0},
		{"identity;q=0 excludes identity", hdr("Accept-Encoding", noIdentAE), "identity", 0},
		{"*;q=0 excludes identity without its own entry", hdr("Accept-Encoding", "gzip, *;q=0"), "identity", 0},
		{"identity's own entry beats *;q=0", hdr("Accept-Encoding", "identity, *;q=0"), "identity", 1},
		{"* covers unlisted codings", hdr("Accept-Encoding", "*"), "zstd", 1},
		{"a listed coding beats *", hdr("Accept-Encoding", "br;q=0, *"), "br", 0},
		{"weights are kept", hdr("Accept-Encoding", "br;q=0.5"), "br", 0.5},
		{"codings are case-insensitive (§8.4.1)", hdr("Accept-Encoding", "GZip"), "gzip", 1},
		{"Q's argument is case-insensitive", hdr("Accept-Encoding", "br"), "BR", 1},
		{"the q parameter name is case-insensitive", hdr("Accept-Encoding", "br;Q=0"), "br", 0},
		{"x-gzip is gzip (§8.4.1.3)", hdr("Accept-Encoding", "x-gzip"), "gzip", 1},
		{"whitespace around parameters (§5.6.6)", hdr("Accept-Encoding", "br ; q = 0"), "br", 0},
		{"field lines combine (§5.3)", hdr("Accept-Encoding", "gzip", "Accept-Encoding", "br"), "br", 1},
		{"the first listing of a coding counts", hdr("Accept-Encoding", "br;q=0, br"), "br", 0},
		{"a malformed weight drops the member", hdr("Accept-Encoding", "br;q=2"), "br", 0},
		{"a weight with four decimals is malformed (§12.4.2)", hdr("Accept-Encoding", "br;q=0.0001"), "br", 0},
		{"other parameters are ignored", hdr("Accept-Encoding", "br;level=5"), "br", 1},
		{"no field: no coding is named", hdr(), "gzip", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseAcceptEncoding(tt.header).Q(tt.coding); got != tt.want {
				t.Errorf("ParseAcceptEncoding(%q).Q(%q) = %v, want %v", tt.header, tt.coding, got, tt.want)
			}
		})
	}
}

func TestAcceptEncodingKey(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"Chrome", chromeAE, "br,deflate,gzip,identity,zstd"},
		{"Firefox", firefoxAE, "br,deflate,gzip,identity,zstd"},
		{"Safari", safariAE, "br,deflate,gzip,identity"},
		{"curl --compressed", curlAE, "br,deflate,gzip,identity,zstd"},
		{"Go", goAE, "gzip,identity"},
		{"gzip and deflate", oldIEAE, "deflate,gzip,identity"},
		{"star accepts every known coding and others", starAE, "br,deflate,gzip,identity,zstd,*"},
		{"identity refused", noIdentAE, "gzip"},
		{"empty: identity only", "", "identity"},
		{"q=0 leaves the set", "gzip, br;q=0", "gzip,identity"},
		{"a coding nobody knows is kept when accepted", "gzip, compress", "gzip,identity,compress"},
		{"x-compress is compress", "x-compress", "identity,compress"},
		{"everything refused", "*;q=0", ""},
		{"case and order do not matter", "ZSTD, Br, GZIP", "br,gzip,identity,zstd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseAcceptEncoding(hdr("Accept-Encoding", tt.value)).Key(); got != tt.want {
				t.Errorf("Key(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestPreferredEncoding(t *testing.T) {
	ours := []string{"zstd", "br", "gzip", "identity"}
	tests := []struct {
		name    string
		header  http.Header
		offered []string
		want    string
		wantOK  bool
	}{
		{"Chrome gets the first offered", hdr("Accept-Encoding", chromeAE), ours, "zstd", true},
		{"Safari gets br", hdr("Accept-Encoding", safariAE), ours, "br", true},
		{"Go gets gzip", hdr("Accept-Encoding", goAE), ours, "gzip", true},
		{"no field gets identity (nginx, Varnish)", hdr(), ours, "identity", true},
		{"no field and no identity offered", hdr(), []string{"gzip"}, "", false},
		{"an empty field gets identity", hdr("Accept-Encoding", ""), ours, "identity", true},
		{"the client's weights decide (§12.4.2)", hdr("Accept-Encoding", "zstd;q=0.5, br;q=0.9, gzip"), ours, "gzip", true},
		{"ties go to the offer order", hdr("Accept-Encoding", "gzip;q=0.5, br;q=0.5, identity;q=0.1"), ours, "br", true},
		{"identity's implicit weight is 1", hdr("Accept-Encoding", "gzip;q=0.5"), ours, "identity", true},
		{"identity refused and only identity offered", hdr("Accept-Encoding", noIdentAE), []string{"identity"}, "", false},
		{"star takes the first offer", hdr("Accept-Encoding", "*"), ours, "zstd", true},
		{"deflate only: identity", hdr("Accept-Encoding", "deflate"), ours, "identity", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PreferredEncoding(tt.header, tt.offered)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("PreferredEncoding(%q, %q) = %q, %v, want %q, %v", tt.header, tt.offered, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzAcceptEncoding checks what the key must keep whatever the field holds: the
// same meaning spelled otherwise (members reordered, codings in another case, more
// whitespace) gets the same key; the key lists exactly the known codings Q accepts.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{chromeAE, safariAE, curlAE, goAE, starAE, noIdentAE, "", "br;q=0, *", "gzip;q=1.5",
		"x-gzip, identity;q=0", ";;,,", "br;q=0.5;q=0", "*;q=0, IDENTITY"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, v string, seed uint64) {
		if !validHeaderValue(v) {
			t.Skip()
		}
		a := ParseAcceptEncoding(hdr("Accept-Encoding", v))
		k := a.Key()
		for _, c := range knownCodings {
			if listed := strings.Contains(","+k+",", ","+c+","); listed != (a.Q(c) > 0) {
				t.Fatalf("Key(%q) = %q, but Q(%q) = %v", v, k, c, a.Q(c))
			}
		}
		for _, c := range strings.Split(k, ",") {
			if c != asciiLower(c) || strings.TrimSpace(c) != c {
				t.Fatalf("Key(%q) = %q has unnormalized coding %q", v, k, c)
			}
		}
		// The same members in another order, case and spacing. Only members whose
		// coding is not repeated: for a repeated one the first listing counts.
		members := strings.Split(v, ",")
		seen := map[string]bool{}
		for _, m := range members {
			c, _, _ := strings.Cut(m, ";")
			c = asciiLower(strings.TrimSpace(c))
			if c == "x-gzip" {
				c = "gzip"
			} else if c == "x-compress" {
				c = "compress"
			}
			if c != "" && seen[c] {
				return
			}
			seen[c] = true
		}
		r := rand.New(rand.NewPCG(seed, 0))
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		for i, m := range members {
			c, p, found := strings.Cut(m, ";")
			if r.IntN(2) == 0 {
				c = strings.Map(func(r rune) rune { // ASCII only: codings are tokens
					if 'a' <= r && r <= 'z' {
						return r - 'a' + 'A'
					}
					return r
				}, c)
			}
			members[i] = " " + c
			if found {
				members[i] += " ;" + p
			}
		}
		w := strings.Join(members, ",")
		if kw := ParseAcceptEncoding(hdr("Accept-Encoding", w)).Key(); kw != k {
			t.Fatalf("Key(%q) = %q but Key(%q) = %q", v, k, w, kw)
		}
	})
}
