package origin

import (
	"net/http"
	"strings"
	"testing"
)

func TestValidHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		ok   bool
	}{
		{"plain fields", http.Header{"Accept": {"*/*"}, "X-Id": {"a b", ""}}, true},
		{"empty name", http.Header{"": {"x"}}, false},
		{"space in name", http.Header{"X Id": {"x"}}, false},
		{"colon in name", http.Header{"X:Id": {"x"}}, false},
		{"brace in name", http.Header{"X{Id": {"x"}}, false},
		{"NUL in name", http.Header{"X\x00Id": {"x"}}, false},
		{"CR in value", http.Header{"X-Id": {"a\rb"}}, false},
		{"LF in a second value", http.Header{"X-Id": {"a", "b\nInjected: 1"}}, false},
		{"NUL in value", http.Header{"X-Id": {"a\x00"}}, false},
		{"tab in value", http.Header{"X-Id": {"a\tb"}}, true},
	} {
		if err := validHeader(tc.h); (err == nil) != tc.ok {
			t.Errorf("%s: validHeader = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// FuzzContainsAny holds the byte sets to what strings.ContainsAny says of the
// characters they were built from.
func FuzzContainsAny(f *testing.F) {
	for _, s := range []string{"", "Content-Type", "X Id", "a\r\nb", "{}", "\x00", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := containsAny(s, &notInName), strings.ContainsAny(s, nameRefuses); got != want {
			t.Errorf("name set on %q: %v, want %v", s, got, want)
		}
		if got, want := containsAny(s, &notInValue), strings.ContainsAny(s, valueRefuses); got != want {
			t.Errorf("value set on %q: %v, want %v", s, got, want)
		}
	})
}
