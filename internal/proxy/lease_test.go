package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// memShared is a shared tier in memory with the tier's lease rules: the first
// Lease of a key holds it; later ones wait until the key is set (filled) or the
// lease is released (not filled).
type memShared struct {
	mu       sync.Mutex
	m        map[string][]byte
	compress map[string]bool
	leased   map[string]chan struct{} // closed at release
	events   []string                 // "set KEY", "release KEY", in order
}

func newMemShared() *memShared {
	return &memShared{m: map[string][]byte{}, compress: map[string]bool{}, leased: map[string]chan struct{}{}}
}

func (s *memShared) Get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	return b, ok
}

func (s *memShared) Set(key string, value []byte, _ time.Duration, compress bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key], s.compress[key] = value, compress
	s.events = append(s.events, "set "+key)
}

func (s *memShared) Del(keys ...string) {}

func (s *memShared) Lease(ctx context.Context, key string) (func(), bool) {
	s.mu.Lock()
	done, held := s.leased[key]
	if !held {
		done = make(chan struct{})
		s.leased[key] = done
		s.mu.Unlock()
		var once sync.Once
		return func() {
			once.Do(func() {
				s.mu.Lock()
				s.events = append(s.events, "release "+key)
				delete(s.leased, key)
				s.mu.Unlock()
				close(done)
			})
		}, false
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return func() {}, false
	}
	_, ok := s.Get(key)
	return func() {}, ok
}

// compressed returns the compress hint key was stored with, and whether it was.
func (s *memShared) compressed(key string) (compress, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	compress, stored = s.compress[key]
	return compress, stored
}

func (s *memShared) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// TestSharedFillServedToTheOtherReplica: two replicas miss one key at once; one
// fetches under the lease, the other serves its entry: one origin request.
func TestSharedFillServedToTheOtherReplica(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"a":1}`)
	})
	shared := newMemShared()
	withShared := func(opt *Options) { opt.Shared = shared }
	a, b := newTestProxy(t, o.URL, withShared), newTestProxy(t, o.URL, withShared)
	statuses := make([]string, 2)
	var wg sync.WaitGroup
	for i, p := range []*testProxy{a, b} {
		wg.Go(func() {
			resp, err := p.Client().Get(p.URL + "/j")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.Header.Get("Cache-Status")
		})
	}
	wg.Wait()
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
	coalesced := 0
	for _, s := range statuses {
		if strings.HasPrefix(s, Name+"; hit;") && strings.HasSuffix(s, "; detail=coalesced") {
			coalesced++
		}
	}
	if coalesced != 1 {
		t.Errorf("Cache-Status of the two responses = %q, want one hit with detail=coalesced", statuses)
	}
	if got := shared.log(); len(got) != 2 || got[0] != "set /j" || got[1] != "release /j" {
		t.Errorf("shared tier saw %q, want the fill's set, then the lease's release", got)
	}
	if c, _ := shared.compressed("/j"); !c {
		t.Error("a JSON entry went to the shared tier with compress=false")
	}
}

// TestLeaseReleasedWhenNothingIsStored: a response that may not be stored still
// releases the lease, so the other replicas do not wait it out.
func TestLeaseReleasedWhenNothingIsStored(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "private")
	})
	shared := newMemShared()
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.Shared = shared })
	p.get(t, "/n")
	if got := shared.log(); len(got) != 1 || got[0] != "release /n" {
		t.Errorf("shared tier saw %q, want only the lease's release", got)
	}
}

// TestAlreadyCompressedIsNotCompressedAgain: the shared tier is told a gzipped
// body would not shrink.
func TestAlreadyCompressedIsNotCompressedAgain(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = io.WriteString(w, strings.Repeat("\x1f\x8b", 600))
	})
	shared := newMemShared()
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.Shared = shared })
	p.get(t, "/gz")
	if c, ok := shared.compressed("/gz"); !ok || c {
		t.Errorf("Set of a gzipped entry: stored %v, compress %v; want stored with compress=false", ok, c)
	}
}
