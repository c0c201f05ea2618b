package l2

import (
	"reflect"
	"testing"
)

func TestPurgeEventRoundTrip(t *testing.T) {
	from := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, p := range []Purge{
		{},
		{URLs: []string{"/a", "/b\x00n\x00Accept:gzip"}, Soft: true},
		{Prefixes: []string{"/v1/"}, Tags: []string{"t", ""}},
	} {
		gotFrom, got, err := decodePurge(encodePurge(from, p))
		if err != nil || gotFrom != from || !reflect.DeepEqual(got, p) {
			t.Errorf("decodePurge(encodePurge(%+v)) = %v, %+v, %v", p, gotFrom, got, err)
		}
	}
	for _, bad := range []string{"", "p", "p1234567", "p12345678", "p12345678\x00\x05", "i\x00", encodePurge(from, Purge{Tags: []string{"x"}}) + "!"} {
		if _, _, err := decodePurge(bad); err == nil {
			t.Errorf("decodePurge(%q) succeeded, want an error", bad)
		}
	}
}

func TestGlobEscape(t *testing.T) {
	if got := globEscape(`/a*b?[c]\d`); got != `/a\*b\?\[c\]\\d` {
		t.Errorf("globEscape = %q", got)
	}
}

// FuzzDecodePurge: a purge event off the channel never panics, and what decodes
// encodes back to the same bytes.
func FuzzDecodePurge(f *testing.F) {
	f.Add(encodePurge([8]byte{}, Purge{URLs: []string{"/a"}, Tags: []string{"t"}, Soft: true}))
	f.Add("p\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff")
	f.Fuzz(func(t *testing.T, s string) {
		from, p, err := decodePurge(s)
		if err != nil {
			return
		}
		if again := encodePurge(from, p); again != s && len(p.URLs)+len(p.Prefixes)+len(p.Tags) > 0 {
			// uvarints have one canonical form only when minimal; accept non-minimal input
			if _, p2, err := decodePurge(again); err != nil || !reflect.DeepEqual(p, p2) {
				t.Fatalf("re-encoding %q gave %q, which decodes to %+v, %v", s, again, p2, err)
			}
		}
	})
}
