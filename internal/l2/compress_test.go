package l2

import (
	"bytes"
	"compress/gzip"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

// jsonBody is what an API answers: about n bytes of JSON records whose keys repeat
// and whose values vary (ids, hex digests, prices, words), from a fixed seed.
func jsonBody(n int) []byte {
	words := strings.Fields("fresh stale origin cache shared tier replica edge proxy header body vary lease " +
		"product price rating stock brand category thumbnail discount warranty shipping return policy")
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString(`{"products":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		desc := make([]string, 6+r.IntN(10))
		for j := range desc {
			desc[j] = words[r.IntN(len(words))]
		}
		fmt.Fprintf(&b, `{"id":%d,"sku":"%016x","title":"%s %s","description":"%s","price":%d.%02d,"rating":%.2f,"stock":%d,"tags":["%s","%s"],"updatedAt":"2026-%02d-%02dT%02d:%02d:%02dZ"}`,
			1000+r.IntN(1_000_000), r.Uint64(), words[r.IntN(len(words))], words[r.IntN(len(words))], strings.Join(desc, " "),
			r.IntN(500), r.IntN(100), 1+4*r.Float64(), r.IntN(300), words[r.IntN(len(words))], words[r.IntN(len(words))],
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func TestCodecRoundTrip(t *testing.T) {
	c := newCodec(1 << 20)
	random := make([]byte, 4096)
	_, _ = crand.Read(random)
	tests := []struct {
		name       string
		v          []byte
		compress   bool
		compressed bool
	}{
		{"JSON is compressed", jsonBody(16 << 10), true, true},
		{"the caller says already compressed", jsonBody(16 << 10), false, false},
		{"small values are not", jsonBody(512), true, false},
		{"incompressible bytes are kept raw", random, true, false},
		{"a raw value that looks encoded is marked raw", append([]byte(valueMagic+"z"), random[:64]...), true, false},
		{"empty", nil, true, false},
	}
	for _, tt := range tests {
		enc := c.encode(tt.v, tt.compress)
		if got := bytes.HasPrefix(enc, []byte(valueMagic+"z")); got != tt.compressed {
			t.Errorf("%s: compressed = %v, want %v (%d -> %d bytes)", tt.name, got, tt.compressed, len(tt.v), len(enc))
		}
		dec, err := c.decode(enc)
		if err != nil || !bytes.Equal(dec, tt.v) {
			t.Errorf("%s: decode(encode(v)) = %d bytes, %v, want the %d bytes back", tt.name, len(dec), err, len(tt.v))
		}
	}
	// A proxy entry written before compression existed reads as it is.
	if dec, err := c.decode([]byte("CP\x01old entry")); err != nil || string(dec) != "CP\x01old entry" {
		t.Errorf("decode(old entry) = %q, %v, want it unchanged", dec, err)
	}
}

func TestCodecCapsDecodedSize(t *testing.T) {
	big := newCodec(1 << 20)
	small := newCodec(64 << 10)
	enc := big.encode(jsonBody(512<<10), true)
	if _, err := small.decode(enc); err == nil {
		t.Error("decode of 512 KiB with a 64 KiB cap: no error")
	}
	// A value that lies about its length: it says 1 KiB but holds 512 KiB.
	n, w := binary.Uvarint(enc[len(valueMagic)+1:])
	lie := append([]byte(valueMagic+"z"), binary.AppendUvarint(nil, 1024)...)
	lie = append(lie, enc[len(valueMagic)+1+w:]...)
	if out, err := big.decode(lie); err == nil {
		t.Errorf("decode of %d bytes declared as 1024: %d bytes, no error", n, len(out))
	}
	for _, bad := range []string{valueMagic, valueMagic + "q", valueMagic + "z", valueMagic + "z\x05hello"} {
		if _, err := big.decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q): no error", bad)
		}
	}
}

func FuzzCodecDecode(f *testing.F) {
	c := newCodec(1 << 20)
	f.Add(c.encode(jsonBody(4096), true))
	f.Add([]byte(valueMagic + "r raw"))
	f.Add([]byte("CP\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := c.decode(b)
		if err == nil && int64(len(out)) > c.max {
			t.Fatalf("decode returned %d bytes, more than the cap %d", len(out), c.max)
		}
	})
}

// BenchmarkCodec measures what compressing a shared entry saves and costs: bytes
// saved per entry (saved-B/op, ratio) and the CPU of encode and of decode (ns/op).
// The gzipped body is skipped by type (compress=false), as the proxy asks; the
// "forced" case shows what trying anyway would cost.
func BenchmarkCodec(b *testing.B) {
	c := newCodec(64 << 20)
	jsonV := jsonBody(64 << 10)
	gz := gzipped(jsonBody(256 << 10))
	for _, bc := range []struct {
		name     string
		v        []byte
		compress bool
	}{
		{"json-64KiB", jsonV, true},
		{"gzip-skipped", gz, false},
		{"gzip-forced", gz, true},
	} {
		enc := c.encode(bc.v, bc.compress)
		b.Run(bc.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(bc.v)))
			b.ReportAllocs()
			for b.Loop() {
				c.encode(bc.v, bc.compress)
			}
			b.ReportMetric(float64(len(bc.v)-len(enc)), "saved-B/op")
			b.ReportMetric(float64(len(enc))/float64(len(bc.v)), "ratio")
		})
		b.Run(bc.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(bc.v)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkS2Alternative is S2 (the faster, weaker codec of the same library) on
// the same JSON, to show what the choice of zstd's fastest level trades.
func BenchmarkS2Alternative(b *testing.B) {
	v := jsonBody(64 << 10)
	enc := s2.Encode(nil, v)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		s2.Encode(nil, v)
	}
	b.ReportMetric(float64(len(v)-len(enc)), "saved-B/op")
	b.ReportMetric(float64(len(enc))/float64(len(v)), "ratio")
}
