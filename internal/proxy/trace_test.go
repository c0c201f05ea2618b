package proxy

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracedProxy is a test proxy with tracing into an in-memory recorder.
func newTracedProxy(t *testing.T, originURL string, tweak ...func(*Options)) (*testProxy, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return newTestProxy(t, originURL, append(tweak, func(o *Options) { o.Tracing = tp })...), sr
}

// tree waits until the spans of n requests (server spans) have ended, then renders
// them as sorted "parent > child" paths of "name (kind)", one trace at a time.
func tree(t *testing.T, sr *tracetest.SpanRecorder, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := sr.Ended()
		servers := 0
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindServer {
				servers++
			}
		}
		if servers >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	spans := sr.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	var paths []string
	for _, s := range spans {
		p := s.Name() + " (" + s.SpanKind().String() + ")"
		for q, ok := byID[s.Parent().SpanID()]; ok; q, ok = byID[q.Parent().SpanID()] {
			p = q.Name() + " (" + q.SpanKind().String() + ") > " + p
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func attr(s sdktrace.ReadOnlySpan, k string) attribute.Value {
	for _, a := range s.Attributes() {
		if string(a.Key) == k {
			return a.Value
		}
	}
	return attribute.Value{}
}

func serverSpans(sr *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			out = append(out, s)
		}
	}
	return out
}

func TestTraceMissAndHit(t *testing.T) {
	var mu sync.Mutex
	var originTP string
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		originTP = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	log := newRecordLog()
	p, sr := newTracedProxy(t, o.URL, func(opt *Options) { opt.AccessLog = log })
	const clientTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	p.get(t, "/a?x=1", "Traceparent", clientTP, "User-Agent", "t/1")
	want := []string{
		"GET (server)",
		"GET (server) > GET (client)",
		"GET (server) > cache lookup (internal)",
	}
	if got := tree(t, sr, 1); !slices.Equal(got, want) {
		t.Errorf("miss: spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	srv := serverSpans(sr)[0]
	if got := srv.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s: the client's traceparent was not continued", got)
	}
	if got := srv.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !srv.Parent().IsRemote() {
		t.Errorf("server span's parent %s (remote %v), want the client's span", got, srv.Parent().IsRemote())
	}
	for k, want := range map[string]string{"http.request.method": "GET", "url.path": "/a", "url.query": "x=1",
		"caching_proxy.cache.outcome": "miss", "caching_proxy.cache.tier": "origin", "user_agent.original": "t/1"} {
		if got := attr(srv, k).Emit(); got != want {
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if got := attr(srv, "http.response.status_code").AsInt64(); got != 200 {
		t.Errorf("status attribute %d", got)
	}
	var client sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	mu.Lock()
	wantTP := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + client.SpanContext().SpanID().String() + "-01"
	if originTP != wantTP {
		t.Errorf("origin got traceparent %q, want ours %q", originTP, wantTP)
	}
	mu.Unlock()
	if r := log.next(t); r.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("access log trace id %q", r.TraceID)
	}

	sr.Reset()
	p.get(t, "/a?x=1")
	if got, want := tree(t, sr, 1), []string{"GET (server)", "GET (server) > cache lookup (internal)"}; !slices.Equal(got, want) {
		t.Errorf("hit: spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := attr(serverSpans(sr)[0], "caching_proxy.cache.outcome").Emit(); got != "hit" {
		t.Errorf("hit: outcome %q", got)
	}
}

func TestTraceRevalidation(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"v"`)
		if r.Header.Get("If-None-Match") == `"v"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "hello")
	})
	p, sr := newTracedProxy(t, o.URL)
	p.get(t, "/r")
	tree(t, sr, 1)
	sr.Reset()
	p.get(t, "/r")
	want := []string{
		"GET (server)",
		"GET (server) > cache lookup (internal)",
		"GET (server) > cache revalidate (internal)",
		"GET (server) > cache revalidate (internal) > GET (client)",
	}
	if got := tree(t, sr, 1); !slices.Equal(got, want) {
		t.Errorf("revalidation: spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range sr.Ended() {
		switch s.Name() {
		case "cache revalidate":
			if got := attr(s, "caching_proxy.cache.result").Emit(); got != "revalidated" {
				t.Errorf("revalidate result %q", got)
			}
		case "GET":
			if s.SpanKind() == trace.SpanKindClient && attr(s, "http.response.status_code").AsInt64() != 304 {
				t.Errorf("origin span status %v", attr(s, "http.response.status_code").Emit())
			}
		}
	}
}

func TestTraceCoalescedWait(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	p, sr := newTracedProxy(t, o.URL)
	done := make(chan struct{})
	go func() { p.get(t, "/c"); done <- struct{}{} }()
	<-arrived
	go func() { p.get(t, "/c"); done <- struct{}{} }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		waiting := slices.ContainsFunc(sr.Started(), func(s sdktrace.ReadWriteSpan) bool { return s.Name() == "cache coalesced wait" })
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request never waited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	<-done
	<-done
	want := []string{
		"GET (server)", "GET (server)",
		"GET (server) > GET (client)",
		"GET (server) > cache coalesced wait (internal)",
		"GET (server) > cache lookup (internal)", "GET (server) > cache lookup (internal)",
	}
	if got := tree(t, sr, 2); !slices.Equal(got, want) {
		t.Errorf("coalesced: spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	outcomes := map[string]int{}
	for _, s := range serverSpans(sr) {
		outcomes[attr(s, "caching_proxy.cache.outcome").Emit()+" "+attr(s, "caching_proxy.cache.detail").Emit()]++
	}
	if outcomes["miss "] != 1 || outcomes["hit coalesced"] != 1 {
		t.Errorf("outcomes %v, want one miss and one coalesced hit", outcomes)
	}
}

// TestNoTracingNoTraceparent: with tracing off, the client's traceparent reaches the
// origin untouched and nothing is added.
func TestNoTracingNoTraceparent(t *testing.T) {
	var got []string
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("Traceparent")
		io.WriteString(w, "x")
	})
	p := newTestProxy(t, o.URL)
	p.get(t, "/n")
	if len(got) != 0 {
		t.Errorf("origin got traceparent %q with tracing off", got)
	}
	p.get(t, "/n2", "Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if len(got) != 1 || got[0] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("origin got traceparent %q, want the client's", got)
	}
}

// TestSharedTierObserved: a replica answering from the shared tier says so in its
// log line, traces the shared-tier call under the lookup, and inspection names both tiers.
func TestSharedTierObserved(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello")
	})
	shared := newMemShared() // lease_test.go
	a := newTestProxy(t, o.URL, func(opt *Options) { opt.Shared = shared })
	a.get(t, "/s", "Accept-Language", "de")
	log := newRecordLog()
	b, sr := newTracedProxy(t, o.URL, func(opt *Options) { opt.Shared = shared; opt.AccessLog = log })
	resp, _ := b.get(t, "/s", "Accept-Language", "de")
	wantStatus(t, resp, "HIT", "hit")
	if r := log.next(t); r.Cache != "hit" || r.Tier != "shared" {
		t.Errorf("log: cache %s tier %s, want a hit from the shared tier", r.Cache, r.Tier)
	}
	want := []string{
		"GET (server)",
		"GET (server) > cache lookup (internal)",
		"GET (server) > cache lookup (internal) > cache shared get (client)",
		"GET (server) > cache lookup (internal) > cache shared get (client)",
	}
	if got := tree(t, sr, 1); !slices.Equal(got, want) { // the variant index, then the variant
		t.Errorf("spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b.h.store.Wait() // the local copy of what came from the shared tier
	vs, _ := b.h.Entries("/s")
	if len(vs) != 1 || !slices.Equal(vs[0].Tiers, []string{"local", "shared"}) {
		t.Errorf("replica b: %+v, want the variant it read from the shared tier, in both tiers", vs)
	}
	vs, _ = a.h.Entries("/s")
	if len(vs) != 1 || !slices.Equal(vs[0].Tiers, []string{"local", "shared"}) || vs[0].Request["Accept-Language"] != "de" {
		t.Errorf("replica a: %+v, want one variant in both tiers", vs)
	}
}
