package policy

import (
	"net/http"
	"testing"
	"time"
)

// verdictName names a Verdict for failure messages.
func verdictName(v Verdict) string {
	switch v {
	case Fresh:
		return "Fresh"
	case Stale:
		return "Stale"
	case Revalidate:
		return "Revalidate"
	}
	return "Verdict(?)"
}

func TestReuse(t *testing.T) {
	minute := Freshness{Lifetime: time.Minute, Received: t0}
	with := func(f Freshness, change func(*Freshness)) Freshness { change(&f); return f }
	tests := []struct {
		name    string
		f       Freshness
		req     http.Header
		elapsed time.Duration // now - Received
		want    Verdict
	}{
		// RFC 9111 §4.2: fresh while freshness_lifetime > current_age.
		{"fresh", minute, nil, 10 * time.Second, Fresh},
		{"stale at exactly the lifetime", minute, nil, time.Minute, Revalidate},
		{"stale after the lifetime", minute, nil, time.Hour, Revalidate},
		{"zero lifetime is stale at once", Freshness{Received: t0}, nil, 0, Revalidate},
		{"initial age counts", with(minute, func(f *Freshness) { f.InitialAge = 50 * time.Second }), nil, 20 * time.Second, Revalidate},
		{"initial age within lifetime", with(minute, func(f *Freshness) { f.InitialAge = 50 * time.Second }), nil, 9 * time.Second, Fresh},
		{"clock before receipt", minute, nil, -time.Hour, Fresh},

		// §5.2.2.4 response no-cache, §5.2.1.4 request no-cache.
		{"response no-cache revalidates even fresh", with(minute, func(f *Freshness) { f.NoCache = true }), nil, 0, Revalidate},
		{"request no-cache revalidates even fresh", minute, hdr("Cache-Control", "no-cache"), 0, Revalidate},
		{"request Pragma no-cache revalidates (§5.4)", minute, hdr("Pragma", "no-cache"), 0, Revalidate},
		{"Pragma ignored when Cache-Control present", minute, hdr("Pragma", "no-cache", "Cache-Control", "max-stale"), 0, Fresh},
		{"max-stale does not override request no-cache", minute, hdr("Cache-Control", "no-cache, max-stale"), time.Hour, Revalidate},
		{"max-stale does not override response no-cache", with(minute, func(f *Freshness) { f.NoCache = true }), hdr("Cache-Control", "max-stale"), time.Hour, Revalidate},

		// §5.2.1.1 request max-age.
		{"request max-age older", minute, hdr("Cache-Control", "max-age=5"), 10 * time.Second, Revalidate},
		{"request max-age equal age", minute, hdr("Cache-Control", "max-age=10"), 10 * time.Second, Fresh},
		{"request max-age=0 with age 0", minute, hdr("Cache-Control", "max-age=0"), 0, Fresh},
		{"request max-age=0 with age 1", minute, hdr("Cache-Control", "max-age=0"), time.Second, Revalidate},
		{"request max-age does not allow stale", minute, hdr("Cache-Control", "max-age=3600"), 2 * time.Minute, Revalidate},
		{"request max-age with max-stale allows stale", minute, hdr("Cache-Control", "max-age=100, max-stale=60"), 90 * time.Second, Stale},
		{"request max-age with max-stale, too old", minute, hdr("Cache-Control", "max-age=80, max-stale=60"), 90 * time.Second, Revalidate},

		// §5.2.1.3 min-fresh.
		{"min-fresh satisfied", minute, hdr("Cache-Control", "min-fresh=30"), 10 * time.Second, Fresh},
		{"min-fresh exactly met", minute, hdr("Cache-Control", "min-fresh=50"), 10 * time.Second, Fresh},
		{"min-fresh not met", minute, hdr("Cache-Control", "min-fresh=55"), 10 * time.Second, Revalidate},
		{"min-fresh=0 on a fresh response", minute, hdr("Cache-Control", "min-fresh=0"), 59 * time.Second, Fresh},

		// §5.2.1.2 max-stale.
		{"max-stale without value accepts any staleness", minute, hdr("Cache-Control", "max-stale"), 24 * time.Hour, Stale},
		{"max-stale within its value", minute, hdr("Cache-Control", "max-stale=30"), 80 * time.Second, Stale},
		{"max-stale at exactly its value", minute, hdr("Cache-Control", "max-stale=30"), 90 * time.Second, Stale},
		{"max-stale exceeded", minute, hdr("Cache-Control", "max-stale=30"), 91 * time.Second, Revalidate},
		{"max-stale=0 on a response stale at exactly its lifetime", minute, hdr("Cache-Control", "max-stale=0"), time.Minute, Stale},
		{"max-stale on a fresh response is Fresh", minute, hdr("Cache-Control", "max-stale"), time.Second, Fresh},

		// §4.2.4, §5.2.2.2: must-revalidate (and proxy-revalidate, s-maxage) forbids max-stale.
		{"must-revalidate forbids max-stale", with(minute, func(f *Freshness) { f.MustRevalidate = true }), hdr("Cache-Control", "max-stale"), 2 * time.Minute, Revalidate},
		{"must-revalidate forbids max-stale with value", with(minute, func(f *Freshness) { f.MustRevalidate = true }), hdr("Cache-Control", "max-stale=3600"), 2 * time.Minute, Revalidate},
		{"must-revalidate while fresh", with(minute, func(f *Freshness) { f.MustRevalidate = true }), nil, time.Second, Fresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = http.Header{}
			}
			got := Reuse(tt.f, ParseRequest(req), tt.f.Received.Add(tt.elapsed))
			if got != tt.want {
				t.Errorf("Reuse(%+v, %q, +%v) = %s, want %s", tt.f, req, tt.elapsed, verdictName(got), verdictName(tt.want))
			}
		})
	}
}

// TestReuseAssessed runs whole responses through Assess and Reuse, as the proxy does.
func TestReuseAssessed(t *testing.T) {
	tests := []struct {
		name    string
		resp    http.Header
		req     http.Header
		elapsed time.Duration
		want    Verdict
	}{
		{"max-age fresh", hdr("Cache-Control", "max-age=60"), hdr(), 30 * time.Second, Fresh},
		{"Age shortens freshness", hdr("Cache-Control", "max-age=60", "Age", "50"), hdr(), 30 * time.Second, Revalidate},
		{"s-maxage forbids max-stale (§5.2.2.10)", hdr("Cache-Control", "s-maxage=60"), hdr("Cache-Control", "max-stale"), 2 * time.Minute, Revalidate},
		{"proxy-revalidate forbids max-stale (§5.2.2.8)", hdr("Cache-Control", "proxy-revalidate, max-age=60"), hdr("Cache-Control", "max-stale"), 2 * time.Minute, Revalidate},
		{"plain max-age allows max-stale", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "max-stale"), 2 * time.Minute, Stale},
		{"no-cache response revalidates", hdr("Cache-Control", "no-cache, max-age=600"), hdr(), 0, Revalidate},
		{"qualified no-cache response is fresh", hdr("Cache-Control", `no-cache="Set-Cookie", max-age=600`), hdr(), 0, Fresh},
		{"expired Expires revalidates", hdr("Expires", "0"), hdr(), 0, Revalidate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := ParseResponse(tt.resp)
			f := Assess(200, tt.resp, d, t0, t0)
			if got := Reuse(f, ParseRequest(tt.req), t0.Add(tt.elapsed)); got != tt.want {
				t.Errorf("Reuse(%q, %q, +%v) = %s, want %s", tt.resp, tt.req, tt.elapsed, verdictName(got), verdictName(tt.want))
			}
		})
	}
}

func TestStaleWithin(t *testing.T) {
	minute := Freshness{Lifetime: time.Minute, Received: t0}
	tests := []struct {
		name    string
		f       Freshness
		window  time.Duration
		elapsed time.Duration
		want    bool
	}{
		{"stale inside the window", minute, 30 * time.Second, 70 * time.Second, true},
		{"stale at the window's edge", minute, 30 * time.Second, 90 * time.Second, true},
		{"stale past the window", minute, 30 * time.Second, 91 * time.Second, false},
		{"zero window", minute, 0, 61 * time.Second, false},
		{"negative window", minute, -time.Minute, 61 * time.Second, false},
		// §4.2.4: must-revalidate and no-cache forbid serving stale.
		{"must-revalidate forbids", Freshness{Lifetime: time.Minute, Received: t0, MustRevalidate: true}, time.Hour, 61 * time.Second, false},
		{"no-cache forbids", Freshness{Lifetime: time.Minute, Received: t0, NoCache: true}, time.Hour, 61 * time.Second, false},
		{"initial age counts", Freshness{Lifetime: time.Minute, InitialAge: time.Minute, Received: t0}, 30 * time.Second, 31 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.StaleWithin(tt.window, t0.Add(tt.elapsed)); got != tt.want {
				t.Errorf("StaleWithin(%v) at +%v = %v, want %v", tt.window, tt.elapsed, got, tt.want)
			}
		})
	}
}
