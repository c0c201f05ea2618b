package policy

import (
	"net/http"
	"testing"
	"time"
)

func TestLifetime(t *testing.T) {
	date := httpDate(t0)
	received := t0.Add(2 * time.Second) // stands in for a missing Date
	tests := []struct {
		name          string
		status        int
		header        http.Header
		want          time.Duration
		wantHeuristic bool
		bug           string
	}{
		// RFC 9111 §4.2.1: s-maxage, then max-age, then Expires minus Date.
		{"s-maxage beats max-age", 200, hdr("Cache-Control", "max-age=60, s-maxage=10"), 10 * time.Second, false, ""},
		{"s-maxage=0 beats max-age", 200, hdr("Cache-Control", "s-maxage=0, max-age=60"), 0, false, ""},
		{"s-maxage beats Expires", 200, hdr("Cache-Control", "s-maxage=5", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), 5 * time.Second, false, ""},
		{"max-age beats Expires", 200, hdr("Cache-Control", "max-age=60", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), time.Minute, false, ""},
		{"max-age=0", 200, hdr("Cache-Control", "max-age=0"), 0, false, ""},
		{"max-age from the first duplicate", 200, hdr("Cache-Control", "max-age=5, max-age=500"), 5 * time.Second, false, ""},
		{"max-age ignores Date", 200, hdr("Cache-Control", "max-age=60", "Date", httpDate(t0.Add(-time.Hour))), time.Minute, false, ""},
		{"huge s-maxage saturates", 200, hdr("Cache-Control", "s-maxage=99999999999"), 2147483647 * time.Second, false, ""},
		{"Expires minus Date", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour))), time.Hour, false, ""},
		{"Expires minus Date, not minus received", 200, hdr("Date", httpDate(t0.Add(-time.Minute)), "Expires", httpDate(t0.Add(time.Hour))), time.Hour + time.Minute, false, ""},
		{"Expires equal to Date", 200, hdr("Date", date, "Expires", date), 0, false, ""},
		{"Expires before Date is 0", 200, hdr("Date", date, "Expires", httpDate(t0.Add(-time.Hour))), 0, false, ""},
		{"Expires in the asctime format", 200, hdr("Date", date, "Expires", "Fri Mar  1 13:00:00 2024"), time.Hour, false, ""},
		{"Expires in the rfc850 format", 200, hdr("Date", date, "Expires", "Friday, 01-Mar-24 13:00:00 GMT"), time.Hour, false, ""},
		// RFC 9110 §5.6.7 recipients are robust: letter case is no reason to reject.
		{"Expires with upper-case names", 200, hdr("Date", date, "Expires", "FRI, 01 MAR 2024 13:00:00 gmt"), time.Hour, false, ""},
		// §5.3: an invalid Expires, such as "0", means already expired.
		{"invalid Expires 0 is 0", 200, hdr("Date", date, "Expires", "0"), 0, false, ""},
		{"invalid Expires -1 is 0", 200, hdr("Date", date, "Expires", "-1"), 0, false, ""},
		{"invalid Expires rules out the heuristic", 200, hdr("Date", date, "Expires", "0", "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, false, ""},
		{"empty Expires is invalid", 200, hdr("Date", date, "Expires", ""), 0, false, ""},
		// §5.3 with RFC 9110 §5.6.7: a date off the HTTP-date grammar is invalid, so expired.
		{"Expires with double spaces is 0", 200, hdr("Date", date, "Expires", "Fri, 01  Mar  2024 13:00:00 GMT"), 0, false, ""},
		{"Expires with a one-digit hour is 0", 200, hdr("Date", date, "Expires", "Fri, 01 Mar 2024 1:00:00 GMT"), 0, false, ""},
		{"Expires in UTC is 0", 200, hdr("Date", date, "Expires", "Fri, 01 Mar 2024 13:00:00 UTC"), 0, false, ""},
		{"Expires with dashes in the date is 0", 200, hdr("Date", date, "Expires", "Fri, 01-Mar-2024 13:00:00 GMT"), 0, false, ""},
		{"Expires without the comma is 0", 200, hdr("Date", date, "Expires", "Fri 01 Mar 2024 13:00:00 GMT"), 0, false, ""},
		// §5.3: Expires is a singleton; more than one field line is invalid.
		{"two Expires lines are 0", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(2*time.Hour))), 0, false, ""},
		{"two equal Expires lines are 0", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(time.Hour))), 0, false, ""},
		// RFC 9110 §6.6.1: a Date off the grammar is as good as none.
		{"Date off the grammar uses received", 200, hdr("Date", "Fri, 01 Mar 2024 12:00:00 UTC", "Expires", httpDate(received.Add(time.Hour))), time.Hour, false, ""},
		{"missing Date uses received", 200, hdr("Expires", httpDate(received.Add(time.Hour))), time.Hour, false, ""},
		{"invalid Date uses received", 200, hdr("Date", "yesterday", "Expires", httpDate(received.Add(time.Hour))), time.Hour, false, ""},
		{"explicit lifetime applies to any status", 500, hdr("Cache-Control", "max-age=30"), 30 * time.Second, false, ""},

		// §4.2.2: heuristic freshness, only without explicit freshness.
		{"heuristic is 10% of Date minus Last-Modified", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic is capped", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-30*24*time.Hour))), HeuristicCap, true, ""},
		{"heuristic just under the cap", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-239*time.Hour))), 239 * time.Hour / 10, true, ""},
		{"heuristic without Date uses received", 200, hdr("Last-Modified", httpDate(received.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic for 301", 301, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic for 308", 308, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic for 404", 404, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic for 501", 501, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"no heuristic for 302", 302, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, false, ""},
		{"no heuristic for 500", 500, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, false, ""},
		{"heuristic for 206 too (RFC 9110 §15.1)", 206, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"heuristic for 302 marked public", 302, hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), time.Hour, true, ""},
		{"no heuristic with max-age=0", 200, hdr("Cache-Control", "max-age=0", "Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, false, ""},
		{"no heuristic with Expires", 200, hdr("Date", date, "Expires", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, false, ""},
		{"no Last-Modified, no heuristic", 200, hdr("Date", date), 0, false, ""},
		{"invalid Last-Modified, no heuristic", 200, hdr("Date", date, "Last-Modified", "last week"), 0, false, ""},
		{"Last-Modified in the future, no heuristic", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(time.Hour))), 0, false, ""},
		{"Last-Modified equal to Date, no heuristic", 200, hdr("Date", date, "Last-Modified", date), 0, false, ""},

		// RFC 9213 §2.1: a cache that obeys a targeted field MUST ignore Cache-Control
		// and Expires; only the targeted field's directives say how long.
		{"targeted field without max-age ignores Expires", 200,
			hdr("CDN-Cache-Control", "must-revalidate", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), 0, false,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := ParseResponse(tt.header)
			got, heuristic := Lifetime(tt.status, tt.header, d, received)
			verdict(t, tt.bug, got == tt.want && heuristic == tt.wantHeuristic,
				"Lifetime(%d, %q) = %v, %v; want %v, %v", tt.status, tt.header, got, heuristic, tt.want, tt.wantHeuristic)
		})
	}
}

func TestAssess(t *testing.T) {
	requested, received := t0.Add(time.Second), t0.Add(3*time.Second)
	tests := []struct {
		name   string
		status int
		header http.Header
		want   Freshness
		bug    string
	}{
		{"max-age with Date", 200, hdr("Cache-Control", "max-age=60", "Date", httpDate(t0)),
			Freshness{Lifetime: time.Minute, InitialAge: 3 * time.Second, Received: received}, ""},
		{"Age plus response delay", 200, hdr("Cache-Control", "max-age=60", "Age", "10"),
			Freshness{Lifetime: time.Minute, InitialAge: 12 * time.Second, Received: received}, ""},
		{"heuristic is flagged", 200, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-10*time.Hour))),
			Freshness{Lifetime: time.Hour, InitialAge: 3 * time.Second, Received: received, Heuristic: true}, ""},
		// §5.2.2.4: unqualified no-cache means validate before every reuse; a field list does not.
		{"no-cache", 200, hdr("Cache-Control", "no-cache, max-age=60"),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received, NoCache: true}, ""},
		{"qualified no-cache is not NoCache", 200, hdr("Cache-Control", `no-cache="Set-Cookie", max-age=60`),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received}, ""},
		{"unqualified no-cache next to a qualified one", 200, hdr("Cache-Control", `no-cache, no-cache="Set-Cookie", max-age=60`),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received, NoCache: true},
			""},
		// §5.2.2.2, §5.2.2.8, §5.2.2.10: never serve stale.
		{"must-revalidate", 200, hdr("Cache-Control", "must-revalidate, max-age=60"),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received, MustRevalidate: true}, ""},
		{"proxy-revalidate", 200, hdr("Cache-Control", "proxy-revalidate, max-age=60"),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received, MustRevalidate: true}, ""},
		{"s-maxage implies proxy-revalidate", 200, hdr("Cache-Control", "s-maxage=60"),
			Freshness{Lifetime: time.Minute, InitialAge: 2 * time.Second, Received: received, MustRevalidate: true}, ""},
		// RFC 5861.
		{"stale-while-revalidate and stale-if-error", 200, hdr("Cache-Control", "max-age=1, stale-while-revalidate=30, stale-if-error=300"),
			Freshness{Lifetime: time.Second, InitialAge: 2 * time.Second, Received: received, StaleRevalidate: 30 * time.Second, StaleIfError: 5 * time.Minute}, ""},
		{"zero windows stay zero", 200, hdr("Cache-Control", "max-age=1, stale-while-revalidate=0, stale-if-error=0"),
			Freshness{Lifetime: time.Second, InitialAge: 2 * time.Second, Received: received}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := ParseResponse(tt.header)
			got := Assess(tt.status, tt.header, d, requested, received)
			verdict(t, tt.bug, got == tt.want, "Assess(%q) = %+v, want %+v", tt.header, got, tt.want)
		})
	}
}

func TestFreshnessAgeAndTTL(t *testing.T) {
	f := Freshness{Lifetime: time.Minute, InitialAge: 10 * time.Second, Received: t0}
	tests := []struct {
		name    string
		now     time.Time
		wantAge time.Duration
		wantTTL time.Duration
	}{
		{"at receipt", t0, 10 * time.Second, 50 * time.Second},
		{"later", t0.Add(20 * time.Second), 30 * time.Second, 30 * time.Second},
		{"stale gives negative TTL", t0.Add(90 * time.Second), 100 * time.Second, -40 * time.Second},
		{"clock before receipt", t0.Add(-time.Hour), 10 * time.Second, 50 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.Age(tt.now); got != tt.wantAge {
				t.Errorf("Age(%v) = %v, want %v", tt.now, got, tt.wantAge)
			}
			if got := f.TTL(tt.now); got != tt.wantTTL {
				t.Errorf("TTL(%v) = %v, want %v", tt.now, got, tt.wantTTL)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		name string
		in   int64
		want time.Duration
	}{
		{"zero", 0, 0},
		{"one", 1, time.Second},
		{"2^31", 1 << 31, (1 << 31) * time.Second},
		{"saturates instead of overflowing", 1 << 62, time.Duration(int64(1<<63-1) / int64(time.Second) * int64(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seconds(tt.in); got != tt.want {
				t.Errorf("seconds(%d) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzLifetime(f *testing.F) {
	date := httpDate(t0)
	f.Add(200, "", httpDate(t0.Add(time.Hour)), date, "", int64(0))
	f.Add(200, "", "0", date, "", int64(0))
	f.Add(200, "", "", date, httpDate(t0.Add(-10*time.Hour)), int64(0))
	f.Add(200, "", "", "", httpDate(t0.Add(-1000*time.Hour)), int64(3600))
	f.Add(302, "public", "", date, httpDate(t0.Add(-time.Hour)), int64(0))
	f.Add(200, "max-age=60, s-maxage=10", "", "", "", int64(0))
	f.Add(200, "", "Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "", int64(0))
	f.Add(200, "", "", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", int64(-1<<40))
	f.Add(404, "max-age=abc", "Fri Mar  1 13:00:00 2024", "yesterday", "Friday, 01-Mar-24 11:00:00 GMT", int64(5))
	f.Fuzz(func(t *testing.T, status int, cc, expires, date, lastModified string, offset int64) {
		h := http.Header{}
		for name, v := range map[string]string{"Cache-Control": cc, "Expires": expires, "Date": date, "Last-Modified": lastModified} {
			if v != "" {
				h.Set(name, v)
			}
		}
		received := t0.Add(time.Duration(offset) * time.Second)
		d, _ := ParseResponse(h)
		life, heuristic := Lifetime(status, h, d, received)
		if life < 0 {
			t.Fatalf("Lifetime(%d, %q) = %v, want >= 0", status, h, life)
		}
		explicit := d.SMaxAge >= 0 || d.MaxAge >= 0 || len(h["Expires"]) > 0
		switch {
		case heuristic && explicit:
			t.Fatalf("Lifetime(%q) used the heuristic despite explicit freshness (§4.2.2)", h)
		case heuristic && life > HeuristicCap:
			t.Fatalf("heuristic Lifetime(%q) = %v, above HeuristicCap", h, life)
		case heuristic && !heuristicallyCacheable(status) && !d.Public:
			t.Fatalf("heuristic Lifetime for status %d without public", status)
		case !explicit && !heuristic && life != 0:
			t.Fatalf("Lifetime(%q) = %v with neither explicit freshness nor heuristic", h, life)
		case d.SMaxAge >= 0 && life != seconds(int64(d.SMaxAge)):
			t.Fatalf("Lifetime(%q) = %v, want s-maxage %d", h, life, d.SMaxAge)
		case d.SMaxAge < 0 && d.MaxAge >= 0 && life != seconds(int64(d.MaxAge)):
			t.Fatalf("Lifetime(%q) = %v, want max-age %d", h, life, d.MaxAge)
		}
		fr := Assess(status, h, d, received, received)
		if fr.Lifetime != life || fr.InitialAge < 0 || fr.StaleRevalidate < 0 || fr.StaleIfError < 0 {
			t.Fatalf("Assess(%q) = %+v", h, fr)
		}
	})
}
