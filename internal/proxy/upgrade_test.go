package proxy

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsAccept is the Sec-WebSocket-Accept value for a key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// TestWebSocketThroughTheProxy: an Upgrade request reaches the origin with its
// Connection and Upgrade fields, the 101 comes back, and then bytes flow both ways
// over the switched connection (RFC 9110 §7.8, RFC 6455 §4). The frames here are
// opaque bytes to the proxy, so the origin echoes them as it reads them.
func TestWebSocketThroughTheProxy(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			http.Error(w, "want an upgrade, got Upgrade "+r.Header.Get("Upgrade")+", Connection "+r.Header.Get("Connection"), http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + wsAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
		_ = brw.Flush()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	tr := NewTransport(TransportOptions{BodyTimeout: time.Second}) // the switched connection is not an origin body
	t.Cleanup(tr.CloseIdleConnections)
	p := newTestProxy(t, o.URL, func(opt *Options) { opt.Transport = tr })

	c, err := net.Dial("tcp", p.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS != nil { // -h2: a WebSocket handshake is HTTP/1.1 (RFC 6455 §4.1), over TLS here
		pool := x509.NewCertPool()
		pool.AddCert(p.Certificate())
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "example.com", NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = tc
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	_, _ = io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: proxy.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %q, want 101", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, wsAccept(key))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Errorf("Upgrade %q, want websocket", resp.Header.Get("Upgrade"))
	}
	// A masked text frame "hi" (RFC 6455 §5.2), then another: each comes back as sent.
	for _, frame := range [][]byte{
		{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2},
		{0x81, 0x83, 9, 9, 9, 9, 'a' ^ 9, 'b' ^ 9, 'c' ^ 9},
	} {
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(frame))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(frame) {
			t.Errorf("echo %x, want %x", got, frame)
		}
	}
	if o.calls.Load() != 1 {
		t.Errorf("origin saw %d requests, want 1", o.calls.Load())
	}
}
