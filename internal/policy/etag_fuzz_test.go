package policy

import (
	"strings"
	"testing"
)

func FuzzEntityTags(f *testing.F) {
	for _, s := range []string{`"a", W/"b"`, `"a,b"`, `*`, `"unterminated`, `W/"x" ,, "y"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags := entityTags(s)
		for _, tag := range tags {
			if tag == "" {
				t.Fatalf("entityTags(%q) produced an empty member: %q", s, tags)
			}
			if !strings.Contains(s, tag) {
				t.Fatalf("entityTags(%q) produced %q, which is not in the input", s, tag)
			}
		}
	})
}
