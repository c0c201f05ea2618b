package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/metrics"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
)

// sharedTier is the Redis tier --redis-url turns on, and the handler it tells when
// another replica invalidated or cleared. The tier is made before the handler (the
// handler's options hold it), so the handler is attached afterwards. A nil
// *sharedTier is the tier turned off: its methods then do nothing.
type sharedTier struct {
	tier *l2.Tier
	h    atomic.Pointer[proxy.Handler]
	log  *slog.Logger
}

// openShared connects the shared tier, or returns nil when redisURL is empty. Only a
// malformed URL is an error: a Redis that does not answer leaves the proxy serving
// from its local store until it does.
func openShared(ctx context.Context, redisURL string, m *metrics.Metrics, log *slog.Logger) (*sharedTier, error) {
	if redisURL == "" {
		return nil, nil
	}
	s := &sharedTier{log: log}
	t, err := l2.New(ctx, l2.Options{
		URL:          redisURL,
		MaxValueSize: maxSharedValue,
		Hits:         m.L2Hits,
		Misses:       m.L2Misses,
		Errors:       m.L2Errors,
		Up:           m.L2Up,
		Logger:       log,
		OnInvalidate: func(keys []string) {
			if h := s.h.Load(); h != nil {
				h.DropLocal(keys...)
			}
		},
		OnClear: func() {
			if h := s.h.Load(); h != nil {
				h.Clear()
			}
		},
		OnPurge: func(p l2.Purge) []string {
			if h := s.h.Load(); h != nil {
				return h.PurgeLocal(proxy.Purge(p)).Keys
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	s.tier = t
	return s, nil
}

// maxSharedValue bounds what a value read from the shared tier may decompress to.
// The proxy writes no entry larger than proxy.Options.MaxSharedSize (1 MiB, which
// run leaves as it is), plus its header; anything larger is corrupt or hostile.
const maxSharedValue = 2 << 20

// store is what proxy.Options.Shared takes: nil, not a nil *l2.Tier, when the tier is off.
func (s *sharedTier) store() proxy.Shared {
	if s == nil {
		return nil
	}
	return sharedPurger{s.tier}
}

// attach connects the handler that other replicas' invalidations and clears reach.
func (s *sharedTier) attach(h *proxy.Handler) {
	if s != nil {
		s.h.Store(h)
	}
}

// clearer is what POST /cache/clear empties: with the tier on, every replica.
func (s *sharedTier) clearer(h *proxy.Handler) admin.Clearer {
	if s == nil {
		return clearer{h}
	}
	return sharedClearer{clearer{h}, s}
}

// Close stops the tier.
func (s *sharedTier) Close() {
	if s != nil {
		_ = s.tier.Close()
	}
}

// sharedClearer empties this replica's store, whose figures it reports, then clears
// the shared tier, which tells every replica to drop its local store. In that order:
// this replica hears its own clear too, and emptying its store first keeps that from
// taking the figures away (a request in between may refill the store from the old
// generation; the event then empties it again).
type sharedClearer struct {
	local clearer
	s     *sharedTier
}

func (c sharedClearer) Clear() admin.Cleared {
	cleared := c.local.Clear()
	if err := c.s.tier.Clear(); err != nil {
		// admin.Cleared has no room for it; the tier retries once Redis answers.
		c.s.log.Error("cache clear: other replicas not cleared yet", "err", err)
	}
	return cleared
}
