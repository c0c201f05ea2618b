package proxy

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// The shared tier stores entries as bytes. The format is versioned: a replica that
// reads a format it does not know treats it as a miss, so mixed versions during a
// rolling upgrade never crash or serve garbage.
//
//	magic "CP" | version byte | fields as uvarint / length-prefixed bytes
const (
	codecMagic   = "CP"
	codecVersion = 1
)

var errCodec = errors.New("proxy: unknown or corrupt shared entry")

// encode renders e for the shared tier.
func (e *entry) encode() []byte {
	b := make([]byte, 0, 64+e.size)
	b = append(b, codecMagic...)
	b = append(b, codecVersion)
	flags := uint64(0)
	for i, on := range []bool{e.marker, e.fresh.NoCache, e.fresh.MustRevalidate, e.fresh.Heuristic} {
		if on {
			flags |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, uint64(e.status))
	for _, d := range []time.Duration{e.fresh.Lifetime, e.fresh.InitialAge, e.fresh.StaleRevalidate, e.fresh.StaleIfError} {
		b = binary.AppendVarint(b, int64(d))
	}
	b = binary.AppendVarint(b, e.fresh.Received.UnixNano())
	x := e.r()
	b = binary.AppendVarint(b, x.first)
	b = binary.AppendVarint(b, x.complete)
	b = appendString(b, x.nonce)
	b = appendString(b, x.varyKey)
	b = binary.AppendUvarint(b, uint64(len(x.vary)))
	for _, v := range x.vary {
		b = appendString(b, v)
	}
	names := 0
	for range e.all() {
		names++
	}
	b = binary.AppendUvarint(b, uint64(names))
	for k, vs := range e.all() {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.body)))
	return append(b, e.body...)
}

// decodeEntry parses what encode wrote; any other input is an error, never a panic.
// key is the key the entry is read for, "" when it is not to be stored (storedKey).
func decodeEntry(b []byte, key string) (*entry, error) {
	d := decoder{b: b}
	if len(b) < 3 || string(b[:2]) != codecMagic || b[2] != codecVersion {
		return nil, errCodec
	}
	d.b = b[3:]
	flags := d.uvarint()
	e := &entry{status: int32(d.uvarint())}
	e.marker = flags&1 != 0
	e.fresh.NoCache = flags&2 != 0
	e.fresh.MustRevalidate = flags&4 != 0
	e.fresh.Heuristic = flags&8 != 0
	e.fresh.Lifetime = time.Duration(d.varint())
	e.fresh.InitialAge = time.Duration(d.varint())
	e.fresh.StaleRevalidate = time.Duration(d.varint())
	e.fresh.StaleIfError = time.Duration(d.varint())
	e.fresh.Received = time.Unix(0, d.varint())
	x := &rare{first: d.varint(), complete: d.varint(), nonce: d.string(), varyKey: d.string()}
	if n := d.count(); n > 0 {
		x.vary = make([]string, n)
		for i := range x.vary {
			x.vary[i] = d.string()
		}
	}
	if x.first != 0 || x.complete != 0 || x.nonce != "" || x.varyKey != "" || x.vary != nil {
		e.rare = x
	}
	var header http.Header
	if n := d.count(); n > 0 || !e.marker {
		header = make(http.Header, n)
		for range n {
			k := d.string()
			vs := make([]string, d.count())
			for i := range vs {
				vs[i] = d.string()
			}
			header[k] = vs
		}
	}
	body := d.bytes()
	if d.err != nil || len(d.b) != 0 {
		return nil, errCodec
	}
	if e.marker {
		e.size = 256
		return e, nil
	}
	allocated := e.setFields(header, body, key) // copies: nothing points into b
	if e.rare != nil {
		e.rare.vary = x.vary // as written: a variant's names are its marker's
	}
	e.size = e.heldBytes(allocated)
	return e, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left, so corrupt input cannot make us allocate.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCodec
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }
