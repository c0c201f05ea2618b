package compress

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/caching-proxy/caching-proxy/internal/bench"
)

var text = []byte(strings.Repeat("<p>The same paragraph, again and again, compresses well.</p>\n", 200))

func TestRoundTrip(t *testing.T) {
	c := New()
	for _, coding := range Codings {
		t.Run(coding, func(t *testing.T) {
			enc, err := c.Encode(coding, text)
			if err != nil {
				t.Fatal(err)
			}
			if len(enc) >= len(text)/4 {
				t.Errorf("Encode(%s) = %d bytes of %d: did not compress", coding, len(enc), len(text))
			}
			dec, err := c.Decode(coding, enc, int64(len(text)))
			if err != nil || !bytes.Equal(dec, text) {
				t.Fatalf("Decode(Encode(%s)) = %d bytes, %v; want the %d original bytes", coding, len(dec), err, len(text))
			}
			r, err := c.NewReader(coding, bytes.NewReader(enc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, text) {
				t.Fatalf("NewReader(%s) read %d bytes, %v", coding, len(got), err)
			}
		})
	}
}

func TestEmptyBody(t *testing.T) {
	c := New()
	for _, coding := range Codings {
		enc, err := c.Encode(coding, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dec, err := c.Decode(coding, enc, 10); err != nil || len(dec) != 0 {
			t.Errorf("Decode(Encode(%s, empty)) = %q, %v", coding, dec, err)
		}
	}
}

// A body that decodes to more than the limit is refused, whatever its compressed size.
func TestDecodeLimit(t *testing.T) {
	c := New()
	bomb := make([]byte, 1<<20)
	for _, coding := range Codings {
		enc, _ := c.Encode(coding, bomb)
		if _, err := c.Decode(coding, enc, 1<<19); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Decode(%s of 1MiB, limit 512KiB) error = %v, want ErrTooLarge", coding, err)
		}
		if got, err := c.Decode(coding, enc, 1<<20); err != nil || len(got) != 1<<20 {
			t.Errorf("Decode(%s of 1MiB, limit 1MiB) = %d bytes, %v", coding, len(got), err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	c := New()
	for _, coding := range Codings {
		enc, _ := c.Encode(coding, text)
		for _, bad := range [][]byte{[]byte("not compressed at all"), enc[:len(enc)/2]} {
			if _, err := c.Decode(coding, bad, 1<<20); err == nil {
				t.Errorf("Decode(%s, %d corrupt bytes) succeeded", coding, len(bad))
			}
		}
	}
	if _, err := c.Encode("deflate", text); err == nil {
		t.Error(`Encode("deflate") succeeded; the codec does not produce it`)
	}
}

// Pooled encoders and decoders are shared by concurrent requests (run with -race).
func TestConcurrentUse(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			coding := Codings[i%len(Codings)]
			body := append([]byte(strings.Repeat("x", i)), text...)
			for range 5 {
				enc, err := c.Encode(coding, body)
				if err != nil {
					t.Error(err)
					return
				}
				if dec, err := c.Decode(coding, enc, 1<<20); err != nil || !bytes.Equal(dec, body) {
					t.Errorf("%s round trip failed: %v", coding, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTypes(t *testing.T) {
	ty, err := ParseTypes([]string{"text/*", "application/json", "application/*+json", "application/javascript", "application/*+xml", "image/svg+xml"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		contentType string
		want        bool
	}{
		{"text/html", true},
		{"text/html; charset=utf-8", true},
		{"TEXT/CSS", true},
		{"application/json", true},
		{"application/ld+json", true},
		{"application/problem+json; charset=utf-8", true},
		{"application/rss+xml", true},
		{"image/svg+xml", true},
		{"application/javascript", true},
		{"image/png", false},
		{"image/webp", false},
		{"font/woff2", false},
		{"application/octet-stream", false},
		{"application/zip", false},
		{"application/+json", false}, // no subtype before the suffix
		{"", false},
		{"text", false},
		{"text/html; charset=\"", false}, // unparsable
	}
	for _, tt := range tests {
		if got := ty.Match(tt.contentType); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.contentType, got, tt.want)
		}
	}
}

func TestParseTypesRejects(t *testing.T) {
	for _, p := range []string{"", "text", "*/*", "text/", "text/ht*", "text/html; charset=utf-8", "a b/c"} {
		if _, err := ParseTypes([]string{p}); err == nil || !strings.Contains(err.Error(), "media type") {
			t.Errorf("ParseTypes(%q) error = %v, want one naming a media type pattern", p, err)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder: an error or a body within the
// limit, never a panic or more than the limit.
func FuzzDecode(f *testing.F) {
	c := New()
	for _, coding := range Codings {
		enc, _ := c.Encode(coding, text[:300])
		f.Add(enc)
	}
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, coding := range Codings {
			if out, err := c.Decode(coding, b, 1<<16); err == nil && len(out) > 1<<16 {
				t.Fatalf("Decode(%s) returned %d bytes past the limit", coding, len(out))
			}
		}
	})
}

// FuzzTypes checks that whatever ParseTypes accepts matches without panicking, and
// that an accepted exact type matches itself.
func FuzzTypes(f *testing.F) {
	for _, s := range []string{"text/*", "application/*+json", "image/svg+xml", "*/*", "a/*+"} {
		f.Add(s, "text/html; charset=utf-8")
	}
	f.Fuzz(func(t *testing.T, pattern, contentType string) {
		ty, err := ParseTypes([]string{pattern})
		if err != nil {
			return
		}
		ty.Match(contentType)
		if p := strings.ToLower(strings.TrimSpace(pattern)); !strings.Contains(p, "*") && validToken(p) && !ty.Match(p) {
			t.Fatalf("ParseTypes(%q) does not match itself", pattern)
		}
	})
}

func validToken(mediaType string) bool {
	for _, c := range mediaType {
		if !(c == '/' || c == '-' || c == '.' || c == '+' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return strings.Count(mediaType, "/") == 1
}

// BenchmarkEncode is the cost of making one stored copy of 100 KiB of text, per
// coding: what a miss that fills a compressible entry waits for.
//
//	go test -run '^$' -bench Encode -benchmem ./internal/compress/
func BenchmarkEncode(b *testing.B) {
	src := bench.Text(100 << 10)
	c := New()
	for _, coding := range Codings {
		b.Run(coding, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := c.Encode(coding, src)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(len(src))/float64(n), "ratio")
		})
	}
}
