package proxy

import "testing"

func TestParseRange(t *testing.T) {
	tests := []struct {
		in         string
		n          int64
		start, end int64
		ok         bool
	}{
		{"bytes=0-1", 10, 0, 1, true},
		{"bytes=2-", 10, 2, 9, true},
		{"bytes=-3", 10, 7, 9, true},
		{"bytes=-30", 10, 0, 9, true},
		{"bytes=5-100", 10, 5, 9, true},
		{"bytes=10-", 10, -1, 0, true}, // unsatisfiable
		{"bytes=-0", 10, -1, 0, true},  // unsatisfiable
		{"bytes=0-1,3-4", 10, 0, 0, false},
		{"bytes=3-1", 10, 0, 0, false},
		{"items=0-1", 10, 0, 0, false},
		{"bytes=a-b", 10, 0, 0, false},
	}
	for _, tt := range tests {
		start, end, ok := parseRange(tt.in, tt.n)
		if ok != tt.ok || (ok && (start != tt.start || end != tt.end)) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v; want %d, %d, %v", tt.in, tt.n, start, end, ok, tt.start, tt.end, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=-0"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if n < 0 {
			return
		}
		start, end, ok := parseRange(s, n)
		if ok && start >= 0 && (end < start || end >= n) {
			t.Fatalf("parseRange(%q, %d) = %d-%d, outside the body", s, n, start, end)
		}
	})
}
