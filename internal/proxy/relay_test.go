package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caching-proxy/caching-proxy/internal/bench"
)

// TestBodiesOfEverySizeArriveWhole: around ReverseProxy's 32 KiB buffer and the
// sized buffers relayBody picks (64 and 128 KiB), a body reaches the client byte for
// byte, passed through, filled into the store and then served from it, compressed
// from a copy, and not at all for HEAD.
func TestBodiesOfEverySizeArriveWhole(t *testing.T) {
	sizes := []int{1, relayBufferMin, relayBufferMin + 1, relayBufferMax / 2, relayBufferMax/2 + 1,
		relayBufferMax, relayBufferMax + 1, copyOnMissMax, 300 << 10}
	body := bench.Text // compresses as HTML does: a gzip copy of 256 KiB is still over 32 KiB
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", map[bool]string{true: "no-store", false: "max-age=60"}[r.URL.Query().Has("nostore")])
		if r.Method != http.MethodHead {
			w.Write(body(n))
		}
	})
	p := newTestProxy(t, o.URL, withCompression)
	for _, n := range sizes {
		want := body(n)
		q := "?n=" + strconv.Itoa(n)
		for _, tt := range []struct {
			name, path, xcache string
		}{
			{"no-store", "/nostore" + q + "&nostore", "MISS"},
			{"no-store again", "/nostore" + q + "&nostore", "MISS"},
			{"miss", "/stored" + q, "MISS"},
			{"hit", "/stored" + q, "HIT"},
		} {
			resp, got := p.raw(t, http.MethodGet, tt.path)
			if !bytes.Equal(got, want) || resp.Header.Get("X-Cache") != tt.xcache {
				t.Errorf("%d bytes, %s: got %d bytes (equal: %v), X-Cache %s; want them all, %s",
					n, tt.name, len(got), bytes.Equal(got, want), resp.Header.Get("X-Cache"), tt.xcache)
			}
			p.h.store.Wait()
		}
		resp, got := p.raw(t, http.MethodHead, "/head"+q+"&nostore")
		if len(got) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(n) {
			t.Errorf("%d bytes, HEAD: body of %d bytes, Content-Length %q; want none and %d", n, len(got), resp.Header.Get("Content-Length"), n)
		}
		resp, got = p.raw(t, http.MethodGet, "/gzip"+q, "Accept-Encoding", "gzip")
		if n >= 1024 && n <= copyOnMissMax { // the miss is answered from a gzip copy; larger ones stream as they are
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%d bytes, gzip: Content-Encoding %q, want gzip", n, resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			got, _ = io.ReadAll(zr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes, gzip: decoded %d bytes, not the body", n, len(got))
		}
	}
}

// TestLongBodyCutMidwayAbortsTheClient: an origin that promises more than it sends
// leaves the client with an error, not a short body that looks whole, and nothing
// stored, whichever copy relays it (ReverseProxy's at 100 bytes, relayBody's above).
func TestLongBodyCutMidwayAbortsTheClient(t *testing.T) {
	for _, length := range []int{100, relayBufferMax * 3} {
		t.Run(strconv.Itoa(length), func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				conn, buf, _ := w.(http.Hijacker).Hijack()
				buf.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: " + strconv.Itoa(length) + "\r\n\r\n")
				buf.WriteString(strings.Repeat("h", length/2))
				buf.Flush()
				conn.Close()
			})
			p := newTestProxy(t, o.URL)
			for range 2 {
				resp, err := p.Client().Get(p.URL + "/cut")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Error("client read a cut body without error")
				}
			}
			p.h.store.Wait()
			if got := o.calls.Load(); got != 2 {
				t.Errorf("origin saw %d requests, want 2 (the partial body was not stored)", got)
			}
		})
	}
}

// writes counts the writes a copy makes.
type writes struct{ n int }

func (w *writes) Write(p []byte) (int, error) { w.n++; return len(p), nil }

// TestCopyBody: each read is written as it comes, whole; a read error is marked as
// the body's and a write error is returned as it is.
func TestCopyBody(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100<<10)
	for _, tt := range []struct {
		name   string
		body   io.Reader
		writes int
	}{
		{"one read", bytes.NewReader(data), 1},
		{"byte by byte", iotest.OneByteReader(bytes.NewReader(data[:10])), 10},
		{"data with EOF", &lastWithEOF{data}, 1},
	} {
		w := &writes{}
		buf := relayBuffers.get(int64(len(data)))
		if err := copyBody(w, tt.body, *buf); err != nil || w.n != tt.writes {
			t.Errorf("%s: %d writes, %v; want %d, nil", tt.name, w.n, err, tt.writes)
		}
		relayBuffers.put(buf)
	}
	boom := errors.New("boom")
	var re readError
	if err := copyBody(&writes{}, iotest.ErrReader(boom), make([]byte, 8)); !errors.As(err, &re) || !errors.Is(err, boom) {
		t.Errorf("read error: got %v, want it marked readError", err)
	}
	if err := copyBody(failWriter{boom}, bytes.NewReader(data), make([]byte, 8)); errors.As(err, &re) || !errors.Is(err, boom) {
		t.Errorf("write error: got %v, want it unmarked", err)
	}
}

// lastWithEOF returns its data in one read, with io.EOF.
type lastWithEOF struct{ data []byte }

func (r *lastWithEOF) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestRelayBufferSizes: the smallest buffer that holds the body, up to the largest.
func TestRelayBufferSizes(t *testing.T) {
	for _, tt := range []struct{ length, size int64 }{
		{relayBufferMin + 1, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10}, {1 << 30, relayBufferMax},
	} {
		b := relayBuffers.get(tt.length)
		if int64(len(*b)) != tt.size {
			t.Errorf("body of %d bytes: buffer of %d, want %d", tt.length, len(*b), tt.size)
		}
		relayBuffers.put(b)
	}
}
