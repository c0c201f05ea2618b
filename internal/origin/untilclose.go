package origin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// RFC 9112 §6.3: when a response's Transfer-Encoding does not end in chunked, its body
// runs until the server closes the connection. net/http's reader refuses such responses
// ("unsupported transfer encoding"). For GET and HEAD we then ask once more over a
// connection of its own, read the body to EOF and never reuse the connection, so
// nothing after it can be smuggled in.

// needsUntilClose reports whether err is Go's refusal of a transfer coding it does not know.
func needsUntilClose(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unsupported transfer encoding")
}

// fetchUntilClose performs req over a new connection, for a response whose length is
// "until close". The transfer coding is not ours to undo (we know only chunked), so the
// body is relayed as sent and Transfer-Encoding is dropped as the hop-by-hop field it is.
func (c *Client) fetchUntilClose(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, errors.New("unsupported transfer encoding on a non-idempotent request")
	}
	ctx := req.Context()
	pc, err := c.dial(ctx, req.URL.Scheme, req.URL.Scheme+"://"+canonicalAddr(req.URL.Scheme, req.URL.Host), req.URL.Hostname())
	if err != nil {
		return nil, err
	}
	conn := pc.nc
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	out := req.Clone(ctx)
	out.Close = true // one exchange, then the connection is gone
	if err := out.Write(conn); err != nil {
		stop()
		conn.Close()
		return nil, err
	}
	pc.headerStarts(c.opt.ResponseHeaderTimeout)
	br := pc.br
	resp, err := readUntilCloseResponse(br, req)
	if err != nil {
		stop()
		conn.Close()
		if isTimeout(err) {
			return nil, errHeaderTimeout
		}
		return nil, err
	}
	if req.Method == http.MethodHead || resp.StatusCode < 200 || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		stop()
		conn.Close()
		resp.Body = http.NoBody // these never have a body (RFC 9112 §6.3 rule 1)
		return resp, nil
	}
	pc.bodyStarted(c.opt.BodyTimeout)
	resp.Body = &closeConnBody{Reader: br, conn: conn, stop: stop}
	return resp, nil
}

// readUntilCloseResponse parses the status line and header of a response whose body
// is delimited by the connection closing.
func readUntilCloseResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	proto, status, ok := strings.Cut(line, " ")
	code, err2 := strconv.Atoi(strings.TrimSpace(status[:min(3, len(status))]))
	major, minor, okProto := http.ParseHTTPVersion(proto)
	if !ok || err2 != nil || code < 100 || code > 999 || !okProto {
		return nil, errors.New("malformed HTTP response " + strconv.Quote(line))
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	h := http.Header(mh)
	if te := h.Values("Transfer-Encoding"); len(te) > 0 && strings.EqualFold(strings.TrimSpace(te[len(te)-1]), "chunked") {
		return nil, errors.New("malformed HTTP response: chunked framing on the until-close path")
	}
	h.Del("Transfer-Encoding")
	h.Del("Content-Length") // §6.3: Transfer-Encoding overrides it
	return &http.Response{
		Status: status, StatusCode: code, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: h, ContentLength: -1, Close: true, Request: req,
	}, nil
}

// closeConnBody reads to EOF and closes the connection it came from.
type closeConnBody struct {
	io.Reader
	conn net.Conn
	stop func() bool
}

func (b *closeConnBody) Close() error {
	b.stop()
	return b.conn.Close()
}
