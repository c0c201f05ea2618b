// Package compress encodes and decodes the content codings the proxy serves (gzip, br,
// zstd) with pooled encoders and decoders, and says which media types are worth
// compressing. It knows nothing of HTTP caching: whether a response may be
// transformed, and which coding a client gets, is decided by policy and the proxy.
package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// The content codings of RFC 9110 §8.4.1 and RFC 8878 this package handles.
const (
	Gzip     = "gzip"
	Brotli   = "br"
	Zstd     = "zstd"
	Identity = "identity"
)

// Codings are the codings the proxy can produce, in the order it prefers them when a
// client weighs several equally: zstd decodes fastest, br is smallest for text, gzip
// is understood by every client.
var Codings = []string{Zstd, Brotli, Gzip}

// Levels chosen for content that is compressed once and served many times, where the
// compression still runs while the response that fills the cache is being relayed:
// gzip 6 (zlib's default), brotli 5 (nginx's brotli module uses 6 for dynamic
// content; 5 is half the time for ~1% more bytes), zstd's default (level 3).
const (
	gzipLevel   = gzip.DefaultCompression
	brotliLevel = 5
)

// ErrTooLarge is returned by Decode when the decoded body would exceed its limit.
var ErrTooLarge = errors.New("compress: decoded body exceeds the limit")

// Codec encodes and decodes bodies. Its methods are safe for concurrent use; the
// zero value is not usable, call New.
type Codec struct {
	gzipW, brW, gzipR, brR, zstdR sync.Pool
	zstdW                         *zstd.Encoder
}

// New returns a Codec with empty pools.
func New() *Codec {
	// EncodeAll on one Encoder is safe for concurrent use; it keeps its own pool.
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true))
	if err != nil {
		panic(fmt.Sprintf("compress: zstd encoder with constant options: %v", err)) // programmer mistake
	}
	return &Codec{zstdW: zw}
}

// Known reports whether the codec can encode and decode coding.
func Known(coding string) bool { return coding == Gzip || coding == Brotli || coding == Zstd }

// Encode returns src in coding. It never changes src.
func (c *Codec) Encode(coding string, src []byte) ([]byte, error) {
	switch coding {
	case Zstd:
		return c.zstdW.EncodeAll(src, make([]byte, 0, len(src)/3+64)), nil
	case Gzip:
		var buf bytes.Buffer
		buf.Grow(len(src)/3 + 64)
		w, _ := c.gzipW.Get().(*gzip.Writer)
		if w == nil {
			w, _ = gzip.NewWriterLevel(&buf, gzipLevel) // the level is valid
		} else {
			w.Reset(&buf)
		}
		defer c.gzipW.Put(w)
		return finish(w, src, &buf)
	case Brotli:
		var buf bytes.Buffer
		buf.Grow(len(src)/3 + 64)
		w, _ := c.brW.Get().(*brotli.Writer)
		if w == nil {
			w = brotli.NewWriterLevel(&buf, brotliLevel)
		} else {
			w.Reset(&buf)
		}
		defer c.brW.Put(w)
		return finish(w, src, &buf)
	}
	return nil, fmt.Errorf("compress: cannot encode %q", coding)
}

func finish(w io.WriteCloser, src []byte, buf *bytes.Buffer) ([]byte, error) {
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode returns src decoded from coding, failing with ErrTooLarge rather than
// producing more than limit bytes (a small body can decode to gigabytes).
func (c *Codec) Decode(coding string, src []byte, limit int64) ([]byte, error) {
	r, err := c.NewReader(coding, bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(int64(len(src))*4, limit)))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("compress: decoding %s: %w", coding, err)
	case n > limit:
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// NewReader decodes coding from r as it is read; Close returns the decoder to its
// pool (it does not close r).
func (c *Codec) NewReader(coding string, r io.Reader) (io.ReadCloser, error) {
	switch coding {
	case Gzip:
		if z, _ := c.gzipR.Get().(*gzip.Reader); z != nil {
			if err := z.Reset(r); err != nil {
				c.gzipR.Put(z)
				return nil, fmt.Errorf("compress: gzip: %w", err)
			}
			return &pooled{Reader: z, put: func() { c.gzipR.Put(z) }}, nil
		}
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		return &pooled{Reader: z, put: func() { c.gzipR.Put(z) }}, nil
	case Brotli:
		b, _ := c.brR.Get().(*brotli.Reader)
		if b == nil {
			b = brotli.NewReader(r)
		} else if err := b.Reset(r); err != nil {
			return nil, fmt.Errorf("compress: br: %w", err)
		}
		return &pooled{Reader: b, put: func() { c.brR.Put(b) }}, nil
	case Zstd:
		d, _ := c.zstdR.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			// One goroutine per stream, and no more window than a browser allows (RFC 8878 §3.1.1.1.2).
			if d, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20)); err != nil {
				return nil, fmt.Errorf("compress: zstd: %w", err)
			}
		} else if err := d.Reset(r); err != nil {
			return nil, fmt.Errorf("compress: zstd: %w", err)
		}
		return &pooled{Reader: d, put: func() {
			_ = d.Reset(nil) // drop the reference to r
			c.zstdR.Put(d)
		}}, nil
	}
	return nil, fmt.Errorf("compress: cannot decode %q", coding)
}

// pooled is a decoder on loan; Close gives it back once.
type pooled struct {
	io.Reader
	put  func()
	once sync.Once
}

func (p *pooled) Close() error {
	p.once.Do(p.put)
	return nil
}
