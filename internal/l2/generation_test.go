package l2

import (
	"strconv"
	"testing"
)

func TestGeneration(t *testing.T) {
	var g generation
	ticket := g.begin()
	if changed := g.finish(ticket, 5); !changed || g.load() != 5 {
		t.Fatalf("first refresh: changed %v, load() = %d, want true, 5", changed, g.load())
	}
	if changed := g.finish(g.begin(), 5); changed {
		t.Errorf("refresh to the same value: changed = true, want false")
	}

	// A refresh that began before this replica's clear read the old value: discarded.
	stale := g.begin()
	if !g.set(6) {
		t.Errorf("set(6) after 5: changed = false, want true")
	}
	if changed := g.finish(stale, 5); changed || g.load() != 6 {
		t.Errorf("stale refresh: changed %v, load() = %d, want false, 6", changed, g.load())
	}

	// Redis restarted empty: the generation goes back to 0, and that is a change.
	if changed := g.finish(g.begin(), 0); !changed || g.load() != 0 {
		t.Errorf("refresh after a restart: changed %v, load() = %d, want true, 0", changed, g.load())
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
