package l2

import (
	"encoding/binary"
	"errors"
)

// An event is what one replica tells every replica on eventsChannel. Keys are
// arbitrary bytes (a variant key holds request header values), so the payload is
// length-prefixed binary rather than text:
//
//	'i' | uvarint count | (uvarint len | key) * count    these keys were invalidated
//	'c' | varint gen                                     the cache was cleared; gen is the new generation
type event struct {
	clear bool
	gen   int64    // when clear
	keys  []string // when not clear
}

const (
	kindInvalidate = 'i'
	kindClear      = 'c'
)

var errEvent = errors.New("l2: unknown or corrupt event")

func encodeInvalidate(keys []string) string {
	n := 1 + binary.MaxVarintLen64
	for _, k := range keys {
		n += binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, kindInvalidate)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return string(b)
}

func encodeClear(gen int64) string {
	return string(binary.AppendVarint([]byte{kindClear}, gen))
}

// decodeEvent parses what encodeInvalidate or encodeClear wrote; anything else,
// such as an event from a newer version, is an error, never a panic.
func decodeEvent(s string) (event, error) {
	if s == "" {
		return event{}, errEvent
	}
	b := []byte(s[1:])
	switch s[0] {
	case kindClear:
		gen, n := binary.Varint(b)
		if n <= 0 || n != len(b) {
			return event{}, errEvent
		}
		return event{clear: true, gen: gen}, nil
	case kindInvalidate:
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) { // each key takes at least a byte
			return event{}, errEvent
		}
		b = b[n:]
		keys := make([]string, 0, count)
		for range count {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return event{}, errEvent
			}
			keys = append(keys, string(b[n:n+int(l)]))
			b = b[n+int(l):]
		}
		if len(b) != 0 {
			return event{}, errEvent
		}
		return event{keys: keys}, nil
	}
	return event{}, errEvent
}
