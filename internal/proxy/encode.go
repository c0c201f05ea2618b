package proxy

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"unsafe"

	"github.com/caching-proxy/caching-proxy/internal/compress"
	"github.com/caching-proxy/caching-proxy/internal/policy"
)

// Compression configures serving one stored response in every content coding a
// client may accept (docs/compression.md). A nil *Compression in Options is off.
type Compression struct {
	Types   compress.Types // media types compressed from identity; nothing matches the zero value
	MinSize int64          // identity bodies smaller than this are not compressed; 0 compresses all
}

// codings are the representations an entry may be served in, each an entry of its
// own that shares the stored entry's freshness: its header names the coding and its
// length, and for any other coding than the origin's a weak ETag (RFC 9110 §8.8.1)
// and no digests. Copies the proxy compresses are made once, when the entry is
// stored, and counted in its size; a hit only chooses one. What the origin compressed
// is kept only as it came: the few clients that do not accept its coding get it
// decoded on the way out (Varnish's http_gzip_support), rather than every entry
// holding a decoded copy three or four times its size.
type codings struct {
	origin  string            // the coding the origin sent ("identity" for none)
	offered []string          // the codings held, preferred in this order: an origin's coding, then compressible's
	views   map[string]*entry // coding -> representation; identity has no body when decoded per request
	bodies  map[string][]byte // coding -> bytes the entry keeps, reused when a 304 refreshes the header
	decoded int               // length of the decoded body, when the origin sent a coding
	extra   int64             // bytes they add to the entry's size
}

// sharedSize is the entry's size as the shared tier holds it: without the copies,
// which each replica makes for itself.
func (e *entry) sharedSize() int64 {
	if e.r().codings == nil {
		return e.size
	}
	return e.size - e.rare.codings.extra
}

// compressible are the codings the proxy makes, in order of preference, then identity.
var compressible = append(slices.Clone(compress.Codings), compress.Identity)

// representationFields are fields that describe one representation's bytes: a copy
// in another coding must not carry the origin's.
var representationFields = []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest", "Accept-Ranges"}

// addCodings gives e its representations in other codings when compression is on
// and the response may be transformed. prev, when not nil, is the entry e refreshes
// (a 304 or a HEAD): its copies are reused, since e's body is the same. e must not
// yet be visible to other requests.
func (h *Handler) addCodings(e *entry, prev *entry) {
	c := h.opt.Compression
	if c == nil || e.marker || e.r().codings != nil || e.status != http.StatusOK || !policy.MayTransform(nil, e.subset("Cache-Control")) {
		return
	}
	origin, ok := policy.ContentCoding(e.subset("Content-Encoding"))
	if !ok || (origin != compress.Identity && !compress.Known(origin)) {
		return
	}
	bodies, decoded := map[string][]byte{origin: e.body}, 0
	switch {
	case prev != nil && prev.r().codings != nil && prev.rare.codings.origin == origin && sameBytes(prev.body, e.body):
		bodies, decoded = prev.rare.codings.bodies, prev.rare.codings.decoded
	case origin != compress.Identity:
		// Decoded once here only to know that it decodes, within --max-object-size,
		// and its length; no copies are made of what the origin compressed: it chose
		// its coding, and every client that accepts it gets the origin's own bytes.
		b, err := h.codec.Decode(origin, e.body, h.opt.MaxObjectSize)
		if err != nil {
			return // corrupt, or a bomb: serve the bytes as they came
		}
		decoded = len(b)
	case c.Types.Match(e.get("Content-Type")) && int64(len(e.body)) >= c.MinSize:
		for _, coding := range compress.Codings {
			b, err := h.codec.Encode(coding, e.body)
			if err != nil || len(b) >= len(e.body) {
				continue // incompressible: not worth a copy
			}
			h.m.Compressed(coding, len(e.body), len(b))
			bodies[coding] = b
		}
	}
	cs := &codings{origin: origin, views: map[string]*entry{}, bodies: bodies, decoded: decoded}
	before := e.size
	if origin != compress.Identity {
		cs.offered = []string{origin, compress.Identity}
		cs.views[origin] = e.view(origin, origin, e.body, len(e.body))
		cs.views[compress.Identity] = e.view(compress.Identity, origin, nil, decoded)
	} else {
		for _, coding := range compressible {
			if b, ok := bodies[coding]; ok {
				cs.offered = append(cs.offered, coding)
				cs.views[coding] = e.view(coding, origin, b, len(b))
				if coding != origin {
					e.size += int64(len(b))
				}
			}
		}
	}
	if len(cs.offered) < 2 {
		return // one representation: nothing to choose, nothing to add
	}
	for _, v := range cs.views {
		e.size += v.size
	}
	cs.extra = e.size - before
	e.w().codings = cs
}

// view builds e's representation in coding from its bytes b, n bytes long.
func (e *entry) view(coding, origin string, b []byte, n int) *entry {
	hd := e.header()
	hd["Vary"] = policy.VaryWith(e.values("Vary"), "Accept-Encoding")
	if coding != origin {
		delete(hd, "Content-Encoding")
		if coding != compress.Identity {
			hd["Content-Encoding"] = []string{coding}
		}
		hd["Content-Length"] = []string{strconv.Itoa(n)}
		if etag := e.get("Etag"); etag != "" {
			hd["Etag"] = []string{policy.WeakETag(etag)}
		}
		for _, f := range representationFields {
			delete(hd, f)
		}
	}
	v := &entry{body: b, status: e.status, fresh: e.fresh, tagged: e.tagged}
	if x := e.r(); len(x.vary) > 0 {
		v.rare = &rare{vary: x.vary, varyKey: x.varyKey}
	}
	room := fieldsRoom(hd)
	v.fields = renderFields(make([]byte, room), hd)
	v.size = int64(room) + int64(unsafe.Sizeof(entry{}))
	return v
}

// representation chooses what a request is answered with from a stored entry: the
// coding the client weighs highest (policy.PreferredEncoding); on a tie the origin's
// own coding, then zstd, br, gzip, identity. A Range request is answered on the bytes
// the origin sent when the client accepts their coding, else on identity, never on a
// copy the proxy made. A request saying no-transform gets the origin's bytes.
func (h *Handler) representation(r *http.Request, e *entry) *entry {
	cs := e.r().codings
	if cs == nil {
		return e
	}
	offered := cs.offered
	switch {
	case len(r.Header["Cache-Control"]) > 0 && !policy.MayTransform(r.Header, nil):
		return cs.views[cs.origin]
	case r.Header.Get("Range") != "":
		offered = []string{cs.origin}
		if _, ok := cs.views[compress.Identity]; ok && cs.origin != compress.Identity {
			offered = append(offered, compress.Identity)
		}
	}
	coding, ok := policy.PreferredEncoding(r.Header, offered)
	if !ok {
		return cs.views[cs.origin]
	}
	v := cs.views[coding]
	if coding != compress.Identity || cs.origin == compress.Identity || r.Method == http.MethodHead ||
		(hasConditional(r.Header) && policy.NotModified(r.Header, v.validatorFields(), v.fresh.Received)) { // no body to send
		return v
	}
	// The origin's coding, decoded for this client (it decoded when stored).
	b, err := h.codec.Decode(cs.origin, e.body, int64(cs.decoded))
	if err != nil {
		return cs.views[cs.origin]
	}
	return &entry{fields: v.fields, body: b, status: v.status, fresh: v.fresh, tagged: v.tagged, rare: v.rare}
}

// countServed records n body bytes served under the Content-Encoding lines given
// (the stored ones of the entry served) by their content coding.
func (h *Handler) countServed(contentEncoding []string, n int) {
	if n == 0 {
		return
	}
	coding := "identity"
	if len(contentEncoding) > 0 {
		coding, _ = policy.ContentCoding(http.Header{"Content-Encoding": contentEncoding})
	}
	h.m.Served(coding, n)
}

// copyOnMissMax is the largest miss read whole before it is answered, so that its
// client gets a compressed copy too; larger ones stream as the origin sends them.
const copyOnMissMax = 256 << 10

// answerFromCopy reports whether a miss should be read whole into the store and
// answered from the entry, so that the client that fills it gets the coding it
// prefers, as every later one does: an identity response of a compressible type and
// a known length between --compress-min-size and copyOnMissMax, for a client that
// prefers a coding to identity. Unknown lengths (streams) and larger bodies stream.
func (h *Handler) answerFromCopy(in *http.Request, resp *http.Response) bool {
	c := h.opt.Compression
	if c == nil || resp.ContentLength < max(c.MinSize, 1) || resp.ContentLength > copyOnMissMax ||
		!c.Types.Match(resp.Header.Get("Content-Type")) || !policy.MayTransform(in.Header, resp.Header) {
		return false
	}
	if origin, ok := policy.ContentCoding(resp.Header); !ok || origin != compress.Identity {
		return false
	}
	coding, ok := policy.PreferredEncoding(in.Header, compressible)
	return ok && coding != compress.Identity
}

// decodeForClient is the miss path's half of compression: when the origin sent a
// coding the client does not accept, the response is decoded on its way out while
// the store keeps the origin's bytes; when the response will be stored and served in
// several codings, it says so with Vary: Accept-Encoding.
func (h *Handler) decodeForClient(in *http.Request, resp *http.Response, stored bool) {
	if h.opt.Compression == nil || resp.StatusCode != http.StatusOK {
		return
	}
	origin, ok := policy.ContentCoding(resp.Header)
	if !ok || origin == compress.Identity && !stored { // nothing to decode, no copies to announce
		return
	}
	if !policy.MayTransform(in.Header, resp.Header) {
		return
	}
	if origin == compress.Identity {
		c := h.opt.Compression
		if stored && c.Types.Match(resp.Header.Get("Content-Type")) && (resp.ContentLength < 0 || resp.ContentLength >= c.MinSize) {
			resp.Header["Vary"] = policy.VaryWith(resp.Header["Vary"], "Accept-Encoding")
		}
		return
	}
	if !compress.Known(origin) {
		return
	}
	if coding, _ := policy.PreferredEncoding(in.Header, []string{origin, compress.Identity}); coding != compress.Identity {
		if stored {
			resp.Header["Vary"] = policy.VaryWith(resp.Header["Vary"], "Accept-Encoding")
		}
		return
	}
	if in.Method == http.MethodHead {
		// No body to decode: the fields GET would get (RFC 9110 §9.3.2).
		resp.ContentLength = -1
		decodedFields(resp.Header)
		return
	}
	rec := &recorder{r: resp.Body, on: true}
	dec, err := h.codec.NewReader(origin, rec)
	if err != nil {
		// Not even a valid header: relay it as it came, the bytes the decoder read first.
		h.log.Warn("origin body does not decode as its Content-Encoding", "coding", origin, "err", err)
		resp.Body = decodedBody{Reader: io.MultiReader(bytes.NewReader(rec.buf), resp.Body), dec: io.NopCloser(nil), body: resp.Body}
		return
	}
	rec.on, rec.buf = false, nil
	resp.Body = decodedBody{Reader: dec, dec: dec, body: resp.Body}
	resp.ContentLength = -1
	decodedFields(resp.Header)
}

// decodedFields turns an origin response's fields into those of its decoded form.
func decodedFields(h http.Header) {
	for _, f := range append([]string{"Content-Encoding", "Content-Length"}, representationFields...) {
		delete(h, f)
	}
	if etag := h.Get("Etag"); etag != "" {
		h["Etag"] = []string{policy.WeakETag(etag)}
	}
	h["Vary"] = policy.VaryWith(h["Vary"], "Accept-Encoding")
}

// headLikeGet gives a HEAD the cache forwarded the fields a GET of the same response
// would get from compression: HEAD answers match GET.
func (h *Handler) headLikeGet(x *exchange, resp *http.Response) {
	if h.opt.Compression == nil || x == nil || x.in.Method != http.MethodHead || x.req == nil {
		return
	}
	d, _ := policy.ParseResponse(resp.Header)
	stored, _ := policy.Storable(policy.Exchange{
		Method: http.MethodGet, RequestHeader: x.in.Header, Request: x.req,
		Status: resp.StatusCode, Header: resp.Header, Directives: d,
	})
	h.decodeForClient(x.in, resp, stored)
}

// decodedBody is an origin body read through a decoder; closing it closes both.
type decodedBody struct {
	io.Reader
	dec  io.Closer
	body io.Closer
}

func (d decodedBody) Close() error {
	d.dec.Close()
	return d.body.Close()
}

// recorder keeps what is read through it while on, so a decoder that fails on the
// first bytes can give them back.
type recorder struct {
	r   io.Reader
	on  bool
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if r.on {
		r.buf = append(r.buf, p[:n]...)
	}
	return n, err
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0] || bytes.Equal(a, b))
}
