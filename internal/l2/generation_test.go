package l2

import (
	"strconv"
	"testing"
)

func TestGenerationNeverMovesBackwards(t *testing.T) {
	var g generation
	if !g.advance(5) || g.load() != 5 {
		t.Fatalf("advance(5) from 0: load() = %d, want 5 and a change", g.load())
	}
	if g.advance(5) {
		t.Errorf("advance(5) again: changed = true, want false")
	}
	// A read that began before this replica's own clear, or a cp:gen that was
	// evicted or restarted empty: lower values change nothing, so entries of the
	// generations cleared before stay unreachable.
	for _, v := range []int64{4, 0} {
		if g.advance(v) || g.load() != 5 {
			t.Errorf("advance(%d) after 5: load() = %d, want 5 and no change", v, g.load())
		}
	}
	if !g.advance(6) || g.load() != 6 {
		t.Errorf("advance(6) after 5: load() = %d, want 6 and a change", g.load())
	}
}

func TestPending(t *testing.T) {
	var p pending
	p.add([]string{"/a", "/b"})
	p.add([]string{"/a"})
	keys, clear, lost := p.take()
	if len(keys) != 2 || clear || lost != 0 {
		t.Errorf("take() = %q, %v, %d, want 2 keys, false, 0", keys, clear, lost)
	}
	if keys, clear, _ := p.take(); keys != nil || clear {
		t.Errorf("second take() = %q, %v, want nothing", keys, clear)
	}

	many := make([]string, maxPending+3)
	for i := range many {
		many[i] = "/" + strconv.Itoa(i)
	}
	p.add(many)
	if keys, _, lost := p.take(); len(keys) != maxPending || lost != 3 {
		t.Errorf("take() after %d keys: %d keys, %d lost, want %d, 3", len(many), len(keys), lost, maxPending)
	}

	p.add([]string{"/a"})
	p.clearLater()
	p.add([]string{"/b"})
	if keys, clear, _ := p.take(); keys != nil || !clear {
		t.Errorf("take() with a clear pending = %q, %v, want no keys (the clear covers them), true", keys, clear)
	}
}
