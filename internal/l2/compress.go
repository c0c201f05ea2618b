package l2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// Values are compressed with zstd when it pays: Redis memory and the network are
// what a shared tier runs short of, and the fastest zstd level costs little CPU.
// A value the tier encoded starts with valueMagic and a codec byte; any other value
// is stored as the caller gave it, so entries written before compression existed
// still read, and an uncompressed value costs nothing extra.
//
//	valueMagic | 'z' | uvarint raw length | zstd frame    compressed
//	valueMagic | 'r' | value                             raw, but the value itself starts with valueMagic
//	value                                                raw
//
// A replica of an older version reads a compressed value as an entry it cannot
// decode: a miss, never garbage.
const (
	valueMagic  = "\x00L2"
	codecRaw    = 'r'
	codecZstd   = 'z'
	compressMin = 1 << 10 // smaller values are stored as they are: too little to save
)

var errValue = errors.New("l2: corrupt, unknown or too large stored value")

// codec compresses and decompresses values. Its encoder and decoder are made once
// and shared: EncodeAll and DecodeAll are safe for concurrent use.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	max int64 // largest value decode returns
}

func newCodec(maxValue int64) *codec {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(err) // only for invalid options
	}
	// The output of DecodeAll is capped at the declared length (WithDecodeAllCapLimit),
	// itself at most max, and the decoder's memory at max too: a corrupt or hostile
	// value cannot make a replica allocate more than that.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(uint64(maxValue)), zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxWindow(uint64(min(maxValue, 1<<26))))
	if err != nil {
		panic(err)
	}
	return &codec{enc: enc, dec: dec, max: maxValue}
}

// encode returns what the tier stores for v: compressed when compress is set, v is
// at least compressMin bytes and the result is at least an eighth smaller.
func (c *codec) encode(v []byte, compress bool) []byte {
	if compress && len(v) >= compressMin {
		b := make([]byte, 0, len(valueMagic)+1+binary.MaxVarintLen64+len(v)/2)
		b = append(b, valueMagic...)
		b = append(b, codecZstd)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = c.enc.EncodeAll(v, b)
		if len(b) <= len(v)-len(v)/8 {
			return b
		}
	}
	if !bytes.HasPrefix(v, []byte(valueMagic)) {
		return v
	}
	b := make([]byte, 0, len(valueMagic)+1+len(v))
	b = append(b, valueMagic...)
	b = append(b, codecRaw)
	return append(b, v...)
}

// decode returns the value encode was given; anything else, such as a value
// declaring or holding more than max bytes, is an error, never a panic.
func (c *codec) decode(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(valueMagic)) {
		return b, nil
	}
	b = b[len(valueMagic):]
	if len(b) == 0 {
		return nil, errValue
	}
	switch b[0] {
	case codecRaw:
		return b[1:], nil
	case codecZstd:
		n, w := binary.Uvarint(b[1:])
		if w <= 0 || n > uint64(c.max) {
			return nil, errValue
		}
		out, err := c.dec.DecodeAll(b[1+w:], make([]byte, 0, n))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errValue, err)
		}
		if uint64(len(out)) != n {
			return nil, errValue
		}
		return out, nil
	}
	return nil, errValue
}
