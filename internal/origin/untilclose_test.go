package origin

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadUntilCloseResponse: any bytes from an origin give a parsed header or an
// error, never a panic; a parsed one has a 3-digit status, no framing fields left
// (Transfer-Encoding and Content-Length are replaced by the close, RFC 9112 §6.3) and
// never chunked framing.
func FuzzReadUntilCloseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: xyzzy\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nContent-Length: 5\r\nTransfer-Encoding: br\r\n\r\nnope!",
		"HTTP/1.1 two hundred\r\n\r\n",
		"HTTP/1.1 200\r\nX: a\r\n continued\r\n\r\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, _ := http.NewRequest(http.MethodGet, "http://origin.test/", nil)
		resp, err := readUntilCloseResponse(bufio.NewReader(strings.NewReader(s)), req)
		if err != nil {
			return
		}
		if resp.StatusCode < 100 || resp.StatusCode > 999 {
			t.Errorf("status %d", resp.StatusCode)
		}
		if len(resp.Header["Transfer-Encoding"]) > 0 || len(resp.Header["Content-Length"]) > 0 {
			t.Errorf("framing fields left: %v", resp.Header)
		}
		if resp.ContentLength != -1 || !resp.Close {
			t.Errorf("ContentLength %d, Close %v: want -1 and true", resp.ContentLength, resp.Close)
		}
	})
}
