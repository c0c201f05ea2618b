package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/compress"
	"github.com/caching-proxy/caching-proxy/internal/config"
	"github.com/caching-proxy/caching-proxy/internal/gctune"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/policy"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Limits on what clients may send; past them Go's server answers 431 or drops the connection.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
)

// runProxy wires the pieces together and serves until ctx ends, then drains.
func runProxy(ctx context.Context, cfg config.Config) error {
	log := newLogger(cfg.LogLevel)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	defer gctune.Start(int64(cfg.GCHeadroom))()
	st, err := proxy.NewStore(int64(cfg.CacheSize))
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New(reg, st.Stats)
	shared, err := openShared(ctx, cfg.RedisURL, m, log)
	if err != nil {
		return err
	}
	defer shared.Close()
	compression, err := compressionOptions(cfg)
	if err != nil {
		return err
	}
	al, err := openAccessLog(ctx, cfg.AccessLog, cfg.AccessLogFormat, reg, log)
	if err != nil {
		return err
	}
	if al != nil {
		defer al.Close() // after the servers drained: their last lines are written
	}
	tp, err := newTracing(ctx)
	if err != nil {
		return err
	}
	defer shutdownTracing(tp, log)
	h := proxy.New(proxy.Options{
		Origin:  cfg.OriginURL(),
		Store:   st,
		Metrics: m,
		Transport: proxy.NewTransport(proxy.TransportOptions{
			ConnectTimeout: cfg.ConnectTimeout, ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
			BodyTimeout: cfg.BodyTimeout,
		}),
		MaxObjectSize:  int64(cfg.MaxObjectSize),
		StaleIfError:   cfg.StaleIfError,
		Logger:         log,
		Shared:         shared.store(),
		Key:            policy.KeyRules{IgnoreQuery: config.Trimmed(cfg.KeyIgnoreQuery), OnlyQuery: config.Trimmed(cfg.KeyOnlyQuery), SortQuery: cfg.KeySortQuery},
		Compression:    compression,
		TagFields:      tagFields(cfg.TagHeaders),
		KeepTagHeaders: cfg.KeepTagHeaders,
		AccessLog:      accessLog(al),
		Tracing:        tracerProvider(tp),
	})
	shared.attach(h)

	pubCert, err := loadCert("tls-cert", cfg.TLSCert, cfg.TLSKey, log)
	if err != nil {
		return err
	}
	adminCert, err := loadCert("admin-tls-cert", cfg.AdminTLSCert, cfg.AdminTLSKey, log)
	if err != nil {
		return err
	}
	public, err := net.Listen("tcp", cfg.Listen())
	if err != nil {
		return fmt.Errorf("--port: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin())
	if err != nil {
		public.Close()
		return fmt.Errorf("--admin-addr: %w", err)
	}
	listeners := []listener{
		{ln: public, cert: pubCert, srv: &http.Server{Handler: withoutH2CUpgrade(h),
			MaxHeaderBytes: maxHeaderBytes, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}},
		{ln: adminLn, cert: adminCert, srv: &http.Server{
			Handler: admin.Handler(shared.clearer(h), reg, admin.Options{
				Token: cfg.AdminToken, Pprof: cfg.Pprof, Purger: purger{h}, Inspector: inspector{h}, Keys: inspector{h},
			}),
			ReadHeaderTimeout: readHeaderTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}},
	}
	protocols(listeners[0].srv, pubCert, tlsMinVersion(cfg), cfg.H2C)
	protocols(listeners[1].srv, adminCert, tlsMinVersion(cfg), false)
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	reloadCerts(rctx, log, pubCert, adminCert)

	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- l.serve() }()
	}
	log.Info("caching-proxy started", "version", version,
		"listen", listeners[0].scheme()+"://"+public.Addr().String(), "protocols", listeners[0].srv.Protocols.String(),
		"origin", cfg.Origin, "admin", listeners[1].scheme()+"://"+adminLn.Addr().String(), "cache_size", cfg.CacheSize.String(), "compress", cfg.Compress,
		"access_log", cfg.AccessLog, "tracing", tp != nil)

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, l := range listeners {
		if e := l.srv.Shutdown(sctx); e != nil {
			err = errors.Join(err, e)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// clearer adapts the proxy to what the admin API needs.
type clearer struct{ h *proxy.Handler }

func (c clearer) Clear() admin.Cleared {
	n, b := c.h.Clear()
	return admin.Cleared{Entries: n, Bytes: b}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// compressionOptions turns --compress, --compress-types and --compress-min-size into
// the proxy's settings; nil when compression is off.
func compressionOptions(cfg config.Config) (*proxy.Compression, error) {
	if !cfg.Compress {
		return nil, nil
	}
	types, err := compress.ParseTypes(cfg.CompressTypes)
	if err != nil {
		return nil, fmt.Errorf("--compress-types: %w", err)
	}
	return &proxy.Compression{Types: types, MinSize: int64(cfg.CompressMinSize)}, nil
}
