package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/accesslog"
	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// openAccessLog opens the access log --access-log names ("-", a path, or "off"; nil
// then) and registers its dropped-lines counter. A file is reopened on SIGHUP until
// ctx ends, for logrotate.
func openAccessLog(ctx context.Context, path, format string, reg prometheus.Registerer, log *slog.Logger) (*accesslog.Logger, error) {
	if path == "off" {
		return nil, nil
	}
	f, err := accesslog.ParseFormat(format)
	if err != nil {
		return nil, fmt.Errorf("--access-log-format: %w", err)
	}
	var l *accesslog.Logger
	if path == "-" {
		l = accesslog.New(os.Stdout, accesslog.Options{Format: f})
	} else if l, err = accesslog.Open(path, accesslog.Options{Format: f}); err != nil {
		return nil, fmt.Errorf("--access-log: %w", err)
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "caching_proxy_access_log_dropped_total",
		Help: "Access log lines lost: the buffer was full (the output is slower than the traffic) or the write failed.",
	}, func() float64 { return float64(l.Dropped()) }))
	if path != "-" {
		onHangup(ctx, func() {
			if err := l.Reopen(); err != nil {
				log.Error("access log not reopened; still writing to the old file", "err", err)
			}
		})
	}
	return l, nil
}

// newTracing returns an OpenTelemetry tracer provider exporting over OTLP/HTTP, when
// an endpoint is set in OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// (and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none); nil otherwise.
// Everything else comes from the standard OTEL_* variables: headers, timeout,
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*.
func newTracing(ctx context.Context) (*sdktrace.TracerProvider, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" ||
		os.Getenv("OTEL_SDK_DISABLED") == "true" || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName("caching-proxy"), semconv.ServiceVersion(version)),
		resource.Environment(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// shutdownTracing flushes the spans still queued.
func shutdownTracing(tp *sdktrace.TracerProvider, log *slog.Logger) {
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		log.Warn("tracing: spans not flushed", "err", err)
	}
}

// tracerProvider is tp as the proxy takes it: a nil interface when tracing is off.
func tracerProvider(tp *sdktrace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return nil
	}
	return tp
}

// accessLog is l as the proxy takes it: a nil interface when the log is off.
func accessLog(l *accesslog.Logger) proxy.AccessLog {
	if l == nil {
		return nil
	}
	return l
}

// inspector adapts the proxy to what the admin API's inspection needs.
type inspector struct{ h *proxy.Handler }

func (i inspector) Entries(url string) (admin.Entries, error) {
	vs, err := i.h.Entries(url)
	if err != nil {
		return admin.Entries{}, err
	}
	ex, _ := i.h.Explain(url)
	out := admin.Entries{URL: url, Key: ex.Key, Entries: make([]admin.Entry, 0, len(vs))}
	for _, v := range vs {
		out.Entries = append(out.Entries, admin.Entry{
			Request: v.Request, Vary: v.Vary, Status: v.Status, StoredAt: v.StoredAt.UTC(),
			Age: secs(v.Age), Lifetime: secs(v.Lifetime), TTL: secs(v.TTL), Heuristic: v.Heuristic,
			StaleRevalidate: secs(v.StaleRevalidate), StaleIfError: secs(v.StaleIfError),
			NoCache: v.NoCache, MustRevalidate: v.MustRevalidate, ETag: v.ETag, LastModified: v.LastModified,
			Size: v.Size, BodyBytes: v.BodyBytes, Tags: v.Tags, Tiers: v.Tiers,
		})
	}
	return out, nil
}

func (i inspector) Explain(url string) (admin.Explanation, error) {
	ex, err := i.h.Explain(url)
	if err != nil {
		return admin.Explanation{}, err
	}
	out := admin.Explanation{URL: url, Key: ex.Key, StoredVariants: ex.Stored}
	if d := ex.Decision; d != nil {
		out.Decision = &admin.Decision{Time: d.Time.UTC(), Method: d.Method, Status: d.Status, Stored: d.Stored, Reason: d.Reason}
	}
	if !ex.HitForMiss.IsZero() {
		t := ex.HitForMiss.UTC()
		out.HitForMissUntil = &t
	}
	return out, nil
}

// Keys lists this replica's stored keys, from the store's key index.
func (i inspector) Keys(prefix, after string, limit int) ([]string, bool) {
	return i.h.Keys(prefix, after, limit)
}

// secs is d in whole seconds, rounded toward zero, as Age and Cache-Status ttl are.
func secs(d time.Duration) int64 { return int64(d / time.Second) }
