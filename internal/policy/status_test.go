package policy

import "testing"

func TestStatusClasses(t *testing.T) {
	tests := []struct {
		status                 int
		wantHeuristic, wantUnd bool
	}{
		// RFC 9110 §15.1 heuristically cacheable statuses; a 206 is stored when it
		// carries one byte range of known length (RFC 9111 §3.3).
		{200, true, true}, {203, true, true}, {204, true, true}, {300, true, true}, {301, true, true},
		{308, true, true}, {404, true, true}, {405, true, true}, {410, true, true}, {414, true, true}, {501, true, true},
		{206, true, true},
		// Understood, but cacheable only with explicit freshness or public.
		{302, false, true}, {303, false, true}, {307, false, true}, {400, false, true}, {403, false, true},
		{451, false, true}, {500, false, true}, {502, false, true}, {503, false, true}, {504, false, true},
		// Never stored (304 only updates) or unknown.
		{304, false, false}, {100, false, false}, {101, false, false}, {201, false, false}, {202, false, false},
		{299, false, false}, {401, false, false}, {409, false, false}, {429, false, false}, {599, false, false}, {0, false, false},
	}
	for _, tt := range tests {
		if got := heuristicallyCacheable(tt.status); got != tt.wantHeuristic {
			t.Errorf("heuristicallyCacheable(%d) = %v, want %v", tt.status, got, tt.wantHeuristic)
		}
		if got := understood(tt.status); got != tt.wantUnd {
			t.Errorf("understood(%d) = %v, want %v", tt.status, got, tt.wantUnd)
		}
	}
}

// Every heuristically cacheable status is one the cache understands (§5.2.2.3).
func TestHeuristicImpliesUnderstood(t *testing.T) {
	for s := 0; s < 1000; s++ {
		if heuristicallyCacheable(s) && !understood(s) {
			t.Errorf("status %d: heuristicallyCacheable = true, understood = false", s)
		}
	}
}
