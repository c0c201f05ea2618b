package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// untilCloseOrigin answers every request with a transfer coding Go's client does not
// know and a body that ends when it closes the connection (RFC 9112 §6.3).
func untilCloseOrigin(t *testing.T, calls *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				calls.Add(1)
				c.Write([]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: xyzzy\r\n\r\n"))
				if r.Method != http.MethodHead {
					c.Write([]byte("body until close"))
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestBodyUntilCloseIsRelayedAndStored(t *testing.T) {
	var calls atomic.Int64
	p := newTestProxy(t, untilCloseOrigin(t, &calls))
	resp, body := p.get(t, "/tc")
	if resp.StatusCode != http.StatusOK || body != "body until close" {
		t.Fatalf("got %d %q, want 200 and the body up to the close", resp.StatusCode, body)
	}
	if te := resp.Header.Get("Transfer-Encoding"); strings.Contains(te, "xyzzy") {
		t.Errorf("Transfer-Encoding %q was relayed; it is hop-by-hop", te)
	}
	resp, body = p.get(t, "/tc")
	wantStatus(t, resp, "HIT", "hit")
	if body != "body until close" || calls.Load() != 2 { // Go's refusal, then our own exchange
		t.Errorf("second request: %q with %d origin exchanges, want the stored body and 2", body, calls.Load())
	}
	// A POST is never retried over the until-close path: a 502, not a second submission.
	before := calls.Load()
	resp, _ = p.do(t, http.MethodPost, "/tc", nil)
	if resp.StatusCode != http.StatusBadGateway || calls.Load() != before+1 {
		t.Errorf("POST: %d with %d more origin calls, want 502 and exactly 1", resp.StatusCode, calls.Load()-before)
	}
}
