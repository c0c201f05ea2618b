package policy

import (
	"net/http"
	"testing"
)

func TestContentRange(t *testing.T) {
	tests := []struct {
		in                    string
		first, last, complete int64
		ok                    bool
	}{
		{"bytes 4-9/10", 4, 9, 10, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{"bytes 4-9/*", 0, 0, 0, false},  // unknown complete length
		{"bytes */10", 0, 0, 0, false},   // unsatisfied-range
		{"bytes 9-4/10", 0, 0, 0, false}, // inverted
		{"bytes 4-10/10", 0, 0, 0, false},
		{"items 1-2/3", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		f, l, c, ok := ContentRange(http.Header{"Content-Range": {tt.in}})
		if ok != tt.ok || (ok && (f != tt.first || l != tt.last || c != tt.complete)) {
			t.Errorf("ContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", tt.in, f, l, c, ok, tt.first, tt.last, tt.complete, tt.ok)
		}
	}
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 4-9/10", "bytes */10", "bytes 0-0/1", "bytes -1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, complete, ok := ContentRange(http.Header{"Content-Range": {s}})
		if ok && (first < 0 || last < first || last >= complete) {
			t.Fatalf("ContentRange(%q) = %d-%d/%d accepted an impossible range", s, first, last, complete)
		}
	})
}
