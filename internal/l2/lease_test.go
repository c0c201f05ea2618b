package l2_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// leaseOrigin answers GETs after d, storable or not, numbering its responses.
func leaseOrigin(t *testing.T, d time.Duration, cacheControl string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		time.Sleep(d)
		w.Header().Set("Cache-Control", cacheControl)
		_, _ = io.WriteString(w, "fetch #"+strconv.FormatInt(i, 10))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// waitLeased waits until a fill lease for key exists in generation 0.
func waitLeased(t *testing.T, rs *redistest.Server, key string) {
	t.Helper()
	c := redisClient(t, rs)
	waitFor(t, "the fill lease to be taken", func() bool {
		return c.Exists(context.Background(), "cp:lease:0:"+key).Val() == 1
	})
}

// TestLeaseExpiresAndTheWaiterFetches: a holder whose origin is slower than the
// lease does not hold the others up past it; they fetch themselves, and the
// holder counts the expired lease.
func TestLeaseExpiresAndTheWaiterFetches(t *testing.T) {
	rs := redistest.Start(t)
	o, fetches := leaseOrigin(t, 1500*time.Millisecond, "max-age=60")
	short := func(o *l2.Options) { o.LeaseTime = 300 * time.Millisecond }
	a, b := newReplica(t, rs.URL(), o.URL, short).ready(t), newReplica(t, rs.URL(), o.URL, short).ready(t)
	done := make(chan string)
	go func() {
		resp, err := a.Client().Get(a.URL + "/slow")
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(body)
	}()
	waitLeased(t, rs, "/slow")
	if _, body := b.do(t, http.MethodGet, "/slow", nil); body != "fetch #2" {
		t.Errorf("B's body = %q, want its own fetch, #2 (the lease expired)", body)
	}
	if body := <-done; body != "fetch #1" {
		t.Errorf("A's body = %q, want fetch #1", body)
	}
	a.tier.Wait()
	if n := fetches.Load(); n != 2 {
		t.Errorf("origin saw %d GETs, want 2", n)
	}
	if n := testutil.ToFloat64(a.leaseExpired); n != 1 {
		t.Errorf("A's expired leases = %v, want 1", n)
	}
}

// TestLeaseReleasedWithoutAFill: when the holder's response may not be stored, it
// releases the lease and the waiters fetch at once, not when the lease runs out.
func TestLeaseReleasedWithoutAFill(t *testing.T) {
	rs := redistest.Start(t)
	o, fetches := leaseOrigin(t, 300*time.Millisecond, "no-store")
	long := func(o *l2.Options) { o.LeaseTime = 20 * time.Second }
	a, b := newReplica(t, rs.URL(), o.URL, long).ready(t), newReplica(t, rs.URL(), o.URL, long).ready(t)
	go a.Client().Get(a.URL + "/private") //nolint:errcheck // only the lease matters
	waitLeased(t, rs, "/private")
	start := time.Now()
	b.get(t, "/private")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("B waited %v for a lease released without a fill, want it to fetch once the holder's response arrived", took)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("origin saw %d GETs, want 2 (the response may not be stored)", n)
	}
}
