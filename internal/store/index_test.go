package store

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func sorted(ks []string) []string { slices.Sort(ks); return ks }

func TestIndexFindsByPrefixAndTag(t *testing.T) {
	s := newStore(t, 1<<20)
	s.SetTagged("/a/1", blob("x"), time.Minute, []string{"t1", "both"})
	s.SetTagged("/a/2?q", blob("x"), time.Minute, []string{"t2", "both"})
	s.SetTagged("/ab", blob("x"), time.Minute, nil)
	s.Set("/b", blob("x"), time.Minute)
	s.Wait()
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"prefix is literal", s.KeysWithPrefix("/a/"), []string{"/a/1", "/a/2?q"}},
		{"prefix covers the query", s.KeysWithPrefix("/a/2?"), []string{"/a/2?q"}},
		{"prefix without a slash", s.KeysWithPrefix("/a"), []string{"/a/1", "/a/2?q", "/ab"}},
		{"no pattern syntax", s.KeysWithPrefix("/a*"), nil},
		{"tag is exact", s.KeysWithTag("both"), []string{"/a/1", "/a/2?q"}},
		{"one tag", s.KeysWithTag("t1"), []string{"/a/1"}},
		{"no prefix match on tags", s.KeysWithTag("t"), nil},
	} {
		if got := sorted(tt.got); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIndexFollowsDelReplaceExpiryClear(t *testing.T) {
	s := newStore(t, 1<<20)
	s.SetTagged("/del", blob("x"), time.Minute, []string{"t"})
	s.SetTagged("/re", blob("x"), time.Minute, []string{"old"})
	s.SetTagged("/exp", blob("x"), 10*time.Millisecond, []string{"t"})
	s.Wait()
	s.Del("/del")
	s.SetTagged("/re", blob("y"), time.Minute, []string{"new"})
	s.Wait()
	if got := s.KeysWithTag("old"); len(got) != 0 {
		t.Errorf("KeysWithTag(old) after replacing = %q, want none", got)
	}
	if got := s.KeysWithTag("new"); !slices.Equal(got, []string{"/re"}) {
		t.Errorf("KeysWithTag(new) = %q, want [/re]", got)
	}
	deadline := time.Now().Add(10 * time.Second) // ristretto drops expired keys on a ticker
	for len(s.KeysWithTag("t")) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.KeysWithTag("t"); len(got) != 0 {
		t.Errorf("KeysWithTag(t) after Del and expiry = %q, want none", got)
	}
	s.Clear()
	if got := s.KeysWithPrefix("/"); len(got) != 0 {
		t.Errorf("KeysWithPrefix(/) after Clear = %q, want none", got)
	}
	if st := s.Stats(); st.IndexKeys != 0 || st.IndexTagged != 0 {
		t.Errorf("Stats() after Clear = %+v, want an empty index", st)
	}
}

// TestIndexFollowsStore pushes ten times the budget of distinct tagged values through
// the store: evictions and refusals must take their keys out of the index, so that
// at the end the index holds exactly the keys the store still answers for, and its
// heap is part of the budget.
func TestIndexFollowsStore(t *testing.T) {
	const (
		budget    = 8 << 20
		valueSize = 4 << 10
		total     = 10 * budget
		n         = total / valueSize
		maxHeld   = budget + budget/4 + 8<<20 // as TestHeapStaysNearBudget allows
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newStore(t, budget)
	keyOf := func(i int) string { return fmt.Sprintf("/objects/%d/item", i) }
	for i := range n {
		s.SetTagged(keyOf(i), make(blob, valueSize), time.Hour, []string{"all", fmt.Sprintf("group-%d", i%100), fmt.Sprintf("own-%d", i)})
		s.Wait()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()

	live := 0
	for i := range n {
		if _, ok := s.Get(keyOf(i)); ok {
			live++
		}
	}
	indexed := map[string]bool{}
	for _, k := range s.KeysWithPrefix("/objects/") {
		indexed[k] = true
	}
	for i := range n {
		_, stored := s.Get(keyOf(i))
		if stored != indexed[keyOf(i)] {
			t.Fatalf("key %s: stored %v, indexed %v; the index must follow the store", keyOf(i), stored, indexed[keyOf(i)])
		}
	}
	if got := len(s.KeysWithTag("all")); got != live {
		t.Errorf("KeysWithTag(all) has %d keys, want the %d live ones", got, live)
	}
	if st.IndexKeys != int64(live) || st.IndexTagged != 3*int64(live) {
		t.Errorf("index holds %d keys and %d memberships, want %d and %d for %d live entries",
			st.IndexKeys, st.IndexTagged, live, 3*live, live)
	}
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("pushed %d MiB through a %d MiB store: %d live entries, %d indexed keys, %d memberships, %.1f MiB counted, heap +%.1f MiB",
		total>>20, budget>>20, live, st.IndexKeys, st.IndexTagged, float64(st.Bytes)/(1<<20), float64(held)/(1<<20))
	if st.Bytes > budget {
		t.Errorf("Stats().Bytes = %d, want <= %d", st.Bytes, budget)
	}
	if held > maxHeld {
		t.Errorf("live heap grew by %d bytes, want <= %d", held, maxHeld)
	}
	runtime.KeepAlive(s)
}

// TestIndexLetsLeavingBytesGo: a key may be cut from its value's own memory, so when
// one of two versions of a key leaves, what the index keeps must not be that
// version's string, whichever order the versions came and went in.
func TestIndexLetsLeavingBytesGo(t *testing.T) {
	for _, tt := range []struct {
		name        string
		leavesFirst int // which version (0, 1) leaves while the other stays
	}{
		{"the older leaves (a replacement)", 0},
		{"the newer leaves (a refused second write)", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := newIndex()
			v := []string{strings.Clone("/k"), strings.Clone("/k")} // the same key in two versions' memory
			x.add(v[0], []string{"tag"})
			x.add(v[1], []string{"tag"})
			x.remove(v[tt.leavesFirst], []string{"tag"})
			gone := unsafe.StringData(v[tt.leavesFirst])
			for _, k := range append(x.withPrefix("/"), x.withTag("tag")...) {
				if k != "/k" {
					t.Fatalf("index holds %q, want /k", k)
				}
				if unsafe.StringData(k) == gone {
					t.Errorf("index holds the leaving version's bytes for %q", k)
				}
			}
			if keys, tagged := x.size(); keys != 1 || tagged != 1 {
				t.Errorf("size = %d keys, %d tagged; want 1, 1", keys, tagged)
			}
			x.remove(v[1-tt.leavesFirst], []string{"tag"})
			if keys, tagged := x.size(); keys != 0 || tagged != 0 {
				t.Errorf("after both left: %d keys, %d tagged; want none", keys, tagged)
			}
		})
	}
}
