package proxy

import (
	"iter"
	"net/http"
	"slices"
	"strings"
	"unsafe"
)

// fields is a stored header rendered once, when the entry is built: one block of
// "Name: value\r\n" lines sorted by name, a name's repeated lines kept in the order
// they came (RFC 9110 §5.3: their order is their meaning), and each line's value as
// a string that points into the block. A stored response so holds no map and no
// string of its own per field; a hit hands the value slices to the response's header
// map as they are (they are never written).
//
// The value strings themselves live in the same allocation as the block, after it
// (fieldsRoom): a stored response is then one object for the garbage collector to
// visit instead of two, and the strings are not scanned at all, since the allocation
// is a []byte. That is sound because every one of them points into that allocation:
// whoever reads one reached it through a pointer into the allocation (the entry's, or
// a header map's value slice), which keeps all of it alive, and Go's heap does not
// move. A collection of a full cache visits a few objects per stored response, so
// one fewer is a large share of its work (docs/performance.md, *Collections on a full cache*).
//
// Names are the header map's keys, as the origin client produced them, never folded
// again; a name holds no ':' (it is a token, RFC 9110 §5.1), which is how a line's
// name is found. Values are taken by length, so one holding any byte at all cannot
// shift the lines after it.
type fields struct {
	block string // the rendered lines; shares its allocation with the body (entry.go)
	lines int    // how many: each has its value's string after the block (vals)
}

// vals returns each line's value, in block order: the strings after the block, in its
// allocation (renderFields). Found from the block rather than kept as a slice, which
// keeps the entry in a smaller size class.
func (f *fields) vals() []string {
	if f.lines == 0 {
		return nil
	}
	views := unsafe.Add(unsafe.Pointer(unsafe.StringData(f.block)), viewsAt(len(f.block)))
	return unsafe.Slice((*string)(views), f.lines)
}

// validName reports whether a name can be rendered: not empty, and none of the bytes
// that end a name or a line. Anything else could not reach a client either (net/http
// drops fields whose names are not tokens).
func validName(k string) bool { return k != "" && !strings.ContainsAny(k, ":\r\n") }

// fieldsLen returns the length of h rendered as a block, and its number of lines.
func fieldsLen(h http.Header) (n, lines int) {
	for k, vs := range h {
		if !validName(k) {
			continue
		}
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
		lines += len(vs)
	}
	return n, lines
}

// stringSize is the size of a string header: a pointer and a length.
const stringSize = int(unsafe.Sizeof(""))

// viewsAt is where the value strings start in a buffer whose first n bytes are the
// block: the next multiple of a pointer's size.
func viewsAt(n int) int { return (n + ptrSize - 1) &^ (ptrSize - 1) }

const ptrSize = int(unsafe.Sizeof(uintptr(0)))

// fieldsRoom returns the bytes renderFields needs for h: the block, padding to a
// pointer's alignment, and one string header per line.
func fieldsRoom(h http.Header) int { return roomFor(fieldsLen(h)) }

// roomFor is fieldsRoom for a block of n bytes in lines lines.
func roomFor(n, lines int) int {
	if lines == 0 {
		return n
	}
	return viewsAt(n) + lines*stringSize
}

// renderFields writes h's lines into buf, which must hold at least fieldsRoom(h)
// bytes and come from a fresh allocation (so that it is pointer-aligned), and returns
// them with their values as views into buf's first bytes. buf's first fieldsRoom(h)
// bytes must not be written again: the strings returned share its memory.
func renderFields(buf []byte, h http.Header) fields {
	names := make([]string, 0, len(h))
	for k, vs := range h {
		if len(vs) > 0 && validName(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	n, lines := fieldsLen(h)
	if len(buf) < roomFor(n, lines) {
		// Appending past it would move the block away from buf, and the views would not fit.
		panic("proxy: renderFields given a buffer without room")
	}
	type span struct{ at, n int }
	spans := make([]span, 0, lines)
	b := buf[:0]
	for _, k := range names {
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			spans = append(spans, span{len(b), len(v)})
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	var f fields
	if n == 0 {
		return f
	}
	base := unsafe.SliceData(buf)
	f.block = unsafe.String(base, n)
	views := unsafe.Pointer(&buf[viewsAt(n)])
	if uintptr(views)%uintptr(ptrSize) != 0 {
		panic("proxy: renderFields given a buffer that is not pointer-aligned")
	}
	// Written as words, not as strings: buf's memory is not scanned, so there is no
	// pointer for a write barrier to record (and the bytes there are not yet strings).
	words := unsafe.Slice((*[2]uintptr)(views), len(spans))
	for i, s := range spans {
		words[i] = [2]uintptr{uintptr(unsafe.Pointer(base)) + uintptr(s.at), uintptr(s.n)}
	}
	f.lines = len(spans)
	return f
}

// all yields each name once with its values (a slice of vals: read, never write).
func (f *fields) all() iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		at, vals := 0, f.vals()
		for i := 0; i < len(vals); {
			name := f.block[at : at+strings.IndexByte(f.block[at:], ':')]
			j := i
			for j < len(vals) {
				if !strings.HasPrefix(f.block[at:], name) || f.block[at+len(name)] != ':' {
					break
				}
				at += len(name) + 2 + len(vals[j]) + 2
				j++
			}
			if !yield(name, vals[i:j:j]) {
				return
			}
			i = j
		}
	}
}

// values returns the lines of name (an exact match on the stored name, as a header
// map's index is), or nil.
func (f *fields) values(name string) []string {
	for k, vs := range f.all() {
		if k == name {
			return vs
		}
	}
	return nil
}

// get returns the first value of name, or "".
func (f *fields) get(name string) string {
	if vs := f.values(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// header returns the fields as a new map whose value slices are the stored ones: for
// the policy functions, which read it, never for a response that may be changed.
func (f *fields) header() http.Header {
	h := make(http.Header, f.lines)
	for k, vs := range f.all() {
		h[k] = vs
	}
	return h
}

// subset returns a map of only the given names, for rules that read a few fields.
func (f *fields) subset(names ...string) http.Header {
	h := make(http.Header, len(names))
	for k, vs := range f.all() {
		if slices.Contains(names, k) {
			h[k] = vs
		}
	}
	return h
}

// validatorFields are the fields conditional requests are compared with (RFC 9110
// §13.1): ETag, Last-Modified, and Date, which stands in for a missing Last-Modified.
func (f *fields) validatorFields() http.Header {
	return f.subset("Etag", "Last-Modified", "Date")
}
