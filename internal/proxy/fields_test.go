package proxy

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/caching-proxy/caching-proxy/internal/policy"
)

func render(h http.Header) fields {
	return renderFields(make([]byte, fieldsRoom(h)), h)
}

func TestFieldsRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		in, want  http.Header
		wantBlock string
	}{
		{"empty", http.Header{}, http.Header{}, ""},
		{"sorted by name", http.Header{"Content-Type": {"text/plain"}, "Age-Like": {"1"}},
			http.Header{"Age-Like": {"1"}, "Content-Type": {"text/plain"}}, "Age-Like: 1\r\nContent-Type: text/plain\r\n"},
		{"repeated lines keep their order, never joined", http.Header{"Set-Cookie": {"b=2", "a=1"}, "Vary": {"A", "B"}},
			http.Header{"Set-Cookie": {"b=2", "a=1"}, "Vary": {"A", "B"}}, "Set-Cookie: b=2\r\nSet-Cookie: a=1\r\nVary: A\r\nVary: B\r\n"},
		{"a name that prefixes another", http.Header{"X-A": {"1"}, "X-A-B": {"2"}, "X-Ab": {"3"}},
			http.Header{"X-A": {"1"}, "X-A-B": {"2"}, "X-Ab": {"3"}}, "X-A: 1\r\nX-A-B: 2\r\nX-Ab: 3\r\n"},
		{"empty values and values holding separators", http.Header{"E": {"", "x"}, "W": {"a: b\r\nc"}},
			http.Header{"E": {"", "x"}, "W": {"a: b\r\nc"}}, "E: \r\nE: x\r\nW: a: b\r\nc\r\n"},
		{"names as the origin sent them, not folded", http.Header{"x-lower": {"1"}, "X-Lower": {"2"}},
			http.Header{"x-lower": {"1"}, "X-Lower": {"2"}}, "X-Lower: 2\r\nx-lower: 1\r\n"},
		{"names that cannot be rendered are dropped, an empty list too", http.Header{"A:B": {"1"}, "": {"2"}, "C\r\nD": {"3"}, "None": {}, "Ok": {"4"}},
			http.Header{"Ok": {"4"}}, "Ok: 4\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := render(tt.in)
			if f.block != tt.wantBlock {
				t.Errorf("block = %q, want %q", f.block, tt.wantBlock)
			}
			if got := f.header(); !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("header() = %q, want %q", got, tt.want)
			}
			for k, vs := range tt.want {
				if got := f.values(k); !slices.Equal(got, vs) {
					t.Errorf("values(%q) = %q, want %q", k, got, vs)
				}
				if got := f.get(k); got != vs[0] {
					t.Errorf("get(%q) = %q, want %q", k, got, vs[0])
				}
			}
			if got := f.values("Absent"); got != nil {
				t.Errorf("values(Absent) = %q, want nil", got)
			}
		})
	}
}

// A hit hands the stored value slices to a response's header map; appending to one
// there must not write into the next field's value.
func TestFieldsValueSlicesAreFull(t *testing.T) {
	f := render(http.Header{"A": {"1", "2"}, "B": {"3"}})
	for k, vs := range f.all() {
		if len(vs) != cap(vs) {
			t.Errorf("%s: len %d, cap %d", k, len(vs), cap(vs))
		}
	}
	a := f.values("A")
	_ = append(a, "x")
	if got := f.get("B"); got != "3" {
		t.Errorf("B = %q after an append to A", got)
	}
}

func TestEntryIsOneAllocation(t *testing.T) {
	src := http.Header{"Content-Type": {"text/plain"}, "Etag": {`"v1"`}, "Vary": {"Accept-Language"}}
	body := []byte(strings.Repeat("b", 1024))
	const key = "/a?b=1"
	e := newEntry(key, http.StatusOK, src, body, policy.Freshness{Lifetime: time.Minute, Received: time.Now()}, http.Header{"Accept-Language": {"de"}})
	start := uintptr(unsafe.Pointer(unsafe.StringData(e.block)))
	views := start + uintptr(viewsAt(len(e.block)))
	if got := uintptr(unsafe.Pointer(unsafe.SliceData(e.vals()))); got != views || got%uintptr(ptrSize) != 0 {
		t.Errorf("value views at %#x, want right behind the block at %#x, pointer-aligned", got, views)
	}
	if got, want := uintptr(unsafe.Pointer(&e.body[0])), views+uintptr(e.lines*stringSize); got != want {
		t.Errorf("body at %#x, want right behind the value views at %#x", got, want)
	}
	if cap(e.body) != len(e.body) {
		t.Errorf("body cap %d, len %d: room past the body would let an append write into the entry", cap(e.body), len(e.body))
	}
	stored := e.storedKey(strings.Clone(key))
	if got, want := uintptr(unsafe.Pointer(unsafe.StringData(stored))), uintptr(unsafe.Pointer(&e.body[0]))+uintptr(len(e.body)); stored != key || got != want {
		t.Errorf("storedKey = %q at %#x, want %q right behind the body at %#x", stored, got, key, want)
	}
	for _, other := range []string{"/a?b=2", "/a", ""} { // the same length, another, none
		if got := e.storedKey(other); got != other || len(other) > 0 && unsafe.StringData(got) != unsafe.StringData(other) {
			t.Errorf("storedKey(%q) = %q, not the key it was given", other, got)
		}
	}
	for _, v := range append(slices.Clone(e.vals()), e.r().vary...) {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(v))); len(v) > 0 && (p < start || p >= start+uintptr(len(e.block))) {
			t.Errorf("%q points outside the block", v)
		}
	}
	src["Etag"][0] = `"changed"`
	body[0] = 'X'
	if e.get("Etag") != `"v1"` || e.body[0] != 'b' {
		t.Error("the entry shares memory with the response it was built from")
	}
	if got := e.get("Content-Length"); got != "1024" {
		t.Errorf("Content-Length = %q, want 1024", got)
	}
}

// TestEntryHeldBytes builds entries as a 1 KiB response with typical fields makes
// them, hit once each, and checks that what each is charged (its Cost) covers what it
// keeps alive on the heap, without overstating it by much: --cache-size bounds the
// heap only if the charge is the real figure.
func TestEntryHeldBytes(t *testing.T) {
	const n = 20_000
	src := http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"public, max-age=3600"},
		"Date":          {"Thu, 03 Dec 2026 12:00:00 GMT"},
		"Last-Modified": {"Wed, 02 Dec 2026 12:00:00 GMT"},
		"Etag":          {`"5f3c-1a2b3c4d"`},
		"Server":        {"origin/1.0"},
	}
	body := make([]byte, 1024)
	fresh := policy.Freshness{Lifetime: time.Hour, Received: time.Now()}
	var charged float64
	held := 0.0
	// Other tests' goroutines may free memory while this measures, which would make
	// the figure too low; they cannot make it too high once collected. So the
	// largest of three is the figure.
	for range 3 {
		entries := make([]*entry, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range entries {
			e := newEntry("/api/items/"+strconv.Itoa(i), http.StatusOK, src, body, fresh, nil)
			e.hitFieldsAt(time.Now(), "")
			entries[i] = e
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = max(held, (float64(after.HeapAlloc)-float64(before.HeapAlloc))/n)
		charged = float64(entries[0].Cost())
		runtime.KeepAlive(entries)
	}
	t.Logf("per entry: %.0f bytes on the heap, %.0f charged", held, charged)
	if charged < held {
		t.Errorf("charged %.0f bytes per entry, but each keeps %.0f alive", charged, held)
	}
	if charged > 1.15*held {
		t.Errorf("charged %.0f bytes per entry for %.0f kept alive: the budget would hold %.0f%% less than it could", charged, held, 100*(1-held/charged))
	}
}

// FuzzFields renders header maps built from arbitrary bytes and reads them back.
func FuzzFields(f *testing.F) {
	f.Add("Content-Type\x00text/plain\x00Vary\x00A\x00Vary\x00B")
	f.Add("a:b\x00c\x00\x00\x00X\x00\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		parts := strings.Split(s, "\x00")
		in := http.Header{}
		for i := 0; i+1 < len(parts); i += 2 {
			in[parts[i]] = append(in[parts[i]], parts[i+1])
		}
		want := http.Header{}
		for k, vs := range in {
			if validName(k) {
				want[k] = vs
			}
		}
		got := render(in)
		if h := got.header(); !maps.EqualFunc(h, want, slices.Equal) {
			t.Fatalf("header() = %q, want %q", h, want)
		}
		if n, _ := fieldsLen(in); len(got.block) != n {
			t.Fatalf("block is %d bytes, fieldsLen says %d", len(got.block), n)
		}
	})
}

// The value strings live in the block's own (unscanned) allocation: whatever holds a
// value slice or a value, and nothing else, must keep the block alive across
// collections, and the memory must not be handed out again meanwhile.
func TestFieldsValuesSurviveCollections(t *testing.T) {
	want := map[string]string{"A": strings.Repeat("a", 300), "B": strings.Repeat("b", 300)}
	var held [][]string
	var values []string
	for range 200 {
		f := render(http.Header{"A": {want["A"]}, "B": {want["B"]}})
		held = append(held, f.values("A"))
		values = append(values, f.get("B"))
	}
	for range 3 {
		runtime.GC()
		for range 2000 { // reuse of any freed block of this size class shows as x's
			sink = bytes.Repeat([]byte("x"), 700)
		}
	}
	for i := range held {
		if held[i][0] != want["A"] || values[i] != want["B"] {
			t.Fatalf("value %d changed after collections: %.20q, %.20q", i, held[i][0], values[i])
		}
	}
}

var sink []byte

// A hit's Age, X-Cache and Cache-Status share one unscanned allocation too
// (newHitFields): a header map's slice of them must keep it alive.
func TestHitFieldsSurviveCollections(t *testing.T) {
	now := time.Now()
	var held [][]string
	for i := range 200 {
		e := &entry{fresh: policy.Freshness{Lifetime: time.Hour, Received: now.Add(-time.Duration(i) * time.Second)}}
		f := e.hitFieldsAt(now, "; detail="+strings.Repeat("d", 40))
		held = append(held, f.vals[0:1:1], f.vals[1:2:2], f.vals[2:3:3])
	}
	for range 3 {
		runtime.GC()
		for range 2000 {
			sink = bytes.Repeat([]byte("x"), 120)
		}
	}
	for i := 0; i < len(held); i += 3 {
		age := strconv.Itoa(i / 3)
		status := Name + "; hit; ttl=" + strconv.Itoa(3600-i/3) + "; detail=" + strings.Repeat("d", 40)
		if held[i][0] != age || held[i+1][0] != "HIT" || held[i+2][0] != status {
			t.Fatalf("hit %d changed after collections: %q %q %q", i/3, held[i][0], held[i+1][0], held[i+2][0])
		}
	}
}

// TestStoredKeysPointIntoEntries fills the cache over HTTP, by a miss and by a
// revalidation, and checks that the key the store holds for each is the copy behind
// its entry's body (storedKey): a stored response then keeps nothing of the request
// it came from alive.
func TestStoredKeysPointIntoEntries(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "max-age=0")
		if r.URL.Path == "/fresh" {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		_, _ = io.WriteString(w, "body of "+r.URL.RequestURI())
	}))
	defer o.Close()
	p := newTestProxy(t, o.URL)
	p.get(t, "/fresh")
	p.get(t, "/stale?a=1")
	p.get(t, "/stale?a=1") // revalidated: a new entry from the 304
	p.h.store.Wait()
	keys := p.h.store.KeysWithPrefix("/")
	if len(keys) != 2 {
		t.Fatalf("stored keys %q, want /fresh and /stale?a=1", keys)
	}
	for _, k := range keys {
		e, ok := p.h.store.Get(k)
		if !ok {
			t.Fatalf("%q: not stored", k)
		}
		start := uintptr(unsafe.Pointer(unsafe.StringData(e.block)))
		end := start + uintptr(roomFor(len(e.block), e.lines)+len(e.body)+int(e.keyLen))
		if p := uintptr(unsafe.Pointer(unsafe.StringData(k))); int(e.keyLen) != len(k) || p < start || p+uintptr(len(k)) != end {
			t.Errorf("key %q held at %#x, want the copy behind its entry's body, ending at %#x", k, p, end)
		}
	}
}
