package store

import (
	"fmt"
	"testing"
	"time"
)

type blob []byte

func (b blob) Cost() int64 { return int64(len(b)) }

func newStore(t *testing.T, max int64) *Store[blob] {
	t.Helper()
	s, err := New[blob](max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSetGetDel(t *testing.T) {
	s := newStore(t, 1<<20)
	if _, ok := s.Get("/a"); ok {
		t.Fatal("Get on empty store found something")
	}
	s.Set("/a", blob("hello"), time.Minute)
	s.Wait()
	got, ok := s.Get("/a")
	if !ok || string(got) != "hello" {
		t.Fatalf("Get(/a) = %q, %v; want hello, true", got, ok)
	}
	s.Del("/a")
	s.Wait()
	if _, ok := s.Get("/a"); ok {
		t.Error("Get after Del found the value")
	}
}

func TestTooLargeIsRefused(t *testing.T) {
	s := newStore(t, 1<<20)
	if s.Set("/big", make(blob, 2<<20), time.Minute) {
		t.Error("Set of a value larger than the budget reported true")
	}
}

func TestStaysWithinBudget(t *testing.T) {
	const budget = 1 << 20
	s := newStore(t, budget)
	for i := range 1000 { // 10x the budget
		s.Set(fmt.Sprintf("/k%d", i), make(blob, 10<<10), time.Minute)
		s.Wait()
	}
	st := s.Stats()
	if st.Bytes > budget {
		t.Errorf("Stats().Bytes = %d, want <= %d", st.Bytes, budget)
	}
	if st.Evicted+st.Rejected == 0 {
		t.Errorf("Stats() = %+v, want evictions or rejections after 10x the budget", st)
	}
	if st.Entries <= 0 || st.Entries > budget/(10<<10) {
		t.Errorf("Stats().Entries = %d, want between 1 and %d", st.Entries, budget/(10<<10))
	}
}

func TestClearReportsAndEmpties(t *testing.T) {
	s := newStore(t, 1<<20)
	for i := range 10 {
		s.Set(fmt.Sprintf("/k%d", i), blob("0123456789"), time.Minute)
	}
	s.Wait()
	st := s.Clear()
	if st.Entries != 10 || st.Bytes == 0 {
		t.Errorf("Clear() = %+v, want 10 entries and some bytes", st)
	}
	for i := range 10 {
		if _, ok := s.Get(fmt.Sprintf("/k%d", i)); ok {
			t.Fatalf("Get(/k%d) after Clear found a value", i)
		}
	}
	if got := s.Stats().Entries; got != 0 {
		t.Errorf("Stats().Entries after Clear = %d, want 0", got)
	}
}

func TestRetentionExpires(t *testing.T) {
	s := newStore(t, 1<<20)
	s.Set("/short", blob("x"), 50*time.Millisecond)
	s.Wait()
	if _, ok := s.Get("/short"); !ok {
		t.Fatal("Get right after Set missed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := s.Get("/short"); !ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("value outlived its retention")
}
