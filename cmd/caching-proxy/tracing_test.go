package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it accepts protobuf
// ExportTraceServiceRequests on /v1/traces and keeps the span names and service names.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []string
	services []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var msg coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					r.services = append(r.services, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, s.Name)
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) seen() (spans, services []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans), slices.Clone(r.services)
}

// TestTracingExportsOverOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, the running
// proxy's spans arrive at the receiver, named for the service.
func TestTracingExportsOverOTLP(t *testing.T) {
	rcv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // ms: export at once
	t.Setenv("OTEL_SERVICE_NAME", "")
	p := startProxy(t, varyOrigin(t).URL)
	c := httpClient(t)
	send(t, c, "GET", p.url+"/t")
	send(t, c, "GET", p.url+"/t")
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans, services := rcv.seen()
		n := 0
		for _, s := range spans {
			if s == "cache lookup" {
				n++
			}
		}
		if n == 2 && slices.Contains(spans, "GET") {
			if !slices.Contains(services, "caching-proxy") {
				t.Errorf("service names %q, want caching-proxy", services)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans received: %q", spans)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTracingOffWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, err := newTracing(t.Context())
	if tp != nil || err != nil {
		t.Errorf("newTracing() = %v, %v; want off", tp, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tp, _ := newTracing(t.Context()); tp != nil {
		t.Error("OTEL_SDK_DISABLED=true: tracing on")
	}
}
