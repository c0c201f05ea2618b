package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PurgeRequest is the body of POST /cache/purge: what to invalidate, by URL (every
// Vary variant of it), by literal prefix of the cache key, or by exact tag.
type PurgeRequest struct {
	URLs     []string `json:"urls,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Soft     bool     `json:"soft,omitempty"` // mark stale and keep, instead of deleting
}

// Purged is the answer to a purge: what this replica's store dropped or marked stale.
type Purged struct {
	Entries int64         `json:"entries"`
	Bytes   int64         `json:"bytes"`
	Shared  *SharedPurged `json:"shared,omitempty"` // with a shared tier
}

// SharedPurged is what a purge did in the shared tier.
type SharedPurged struct {
	Entries int64  `json:"entries"`         // entries deleted or marked stale there
	Scan    string `json:"scan,omitempty"`  // "background" while a prefix purge walks the tier
	Error   string `json:"error,omitempty"` // the tier was not reached: other replicas may keep copies
}

// Purger applies a purge. It returns an error made by Invalid when the request names
// something that cannot be purged; it then must have changed nothing.
type Purger interface {
	Purge(PurgeRequest) (Purged, error)
}

// Invalid is the error a Purger returns for a request it refuses as a whole.
func Invalid(format string, args ...any) error { return invalidError(fmt.Sprintf(format, args...)) }

type invalidError string

func (e invalidError) Error() string { return string(e) }

// Limits of one purge request.
const (
	maxPurgeBody  = 1 << 20
	maxPurgeItems = 10_000
)

// purgeJSON serves POST /cache/purge.
func purgeJSON(p Purger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decodePurge(http.MaxBytesReader(w, r.Body, maxPurgeBody))
		if err != nil {
			http.Error(w, "purge: "+err.Error(), http.StatusBadRequest)
			return
		}
		answerPurge(w, p, req)
	}
}

// purgeMethod serves Varnish's dialect, as FOSHttpCache and other clients send it:
// PURGE <path> drops that URL (every variant); PURGE with Surrogate-Key, xkey-purge
// or xkey-softpurge (space-separated tags) drops those tags instead. Fastly-Soft-Purge: 1
// or xkey-softpurge makes either soft.
func purgeMethod(p Purger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req PurgeRequest
		for _, f := range []string{"Surrogate-Key", "Xkey-Purge", "Xkey-Softpurge"} {
			for _, v := range r.Header[f] {
				req.Tags = append(req.Tags, strings.Fields(v)...)
			}
		}
		req.Soft = len(r.Header["Xkey-Softpurge"]) > 0 || strings.TrimSpace(r.Header.Get("Fastly-Soft-Purge")) == "1"
		if len(req.Tags) == 0 {
			if hasTagHeader(r.Header) {
				http.Error(w, "purge: the tag header names no tag", http.StatusBadRequest)
				return
			}
			target := r.RequestURI
			if !strings.HasPrefix(target, "/") {
				target = r.URL.RequestURI()
			}
			req.URLs = []string{target}
		}
		if err := validatePurge(&req); err != nil {
			http.Error(w, "purge: "+err.Error(), http.StatusBadRequest)
			return
		}
		answerPurge(w, p, req)
	}
}

func hasTagHeader(h http.Header) bool {
	for _, f := range []string{"Surrogate-Key", "Xkey-Purge", "Xkey-Softpurge"} {
		if len(h[f]) > 0 {
			return true
		}
	}
	return false
}

func answerPurge(w http.ResponseWriter, p Purger, req PurgeRequest) {
	got, err := p.Purge(req)
	var bad invalidError
	switch {
	case errors.As(err, &bad):
		http.Error(w, "purge: "+bad.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, "purge: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(got)
}

// decodePurge reads one JSON object with only the fields of PurgeRequest.
func decodePurge(r io.Reader) (PurgeRequest, error) {
	var req PurgeRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &te):
			return req, fmt.Errorf("%s: want %s, got a JSON %s", te.Field, want(te.Field), te.Value)
		case errors.As(err, &mb):
			return req, fmt.Errorf("body is larger than %d bytes", maxPurgeBody)
		case errors.Is(err, io.EOF):
			return req, errors.New(`body is empty; want {"urls": [...], "prefixes": [...], "tags": [...], "soft": false}`)
		}
		return req, fmt.Errorf("body is not the JSON expected: %v", err)
	}
	if dec.More() {
		return req, errors.New("body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("body holds more than one JSON value")
	}
	return req, validatePurge(&req)
}

func want(field string) string {
	if field == "soft" {
		return "true or false"
	}
	return "an array of strings"
}

// validatePurge checks what needs no knowledge of cache keys.
func validatePurge(req *PurgeRequest) error {
	n := len(req.URLs) + len(req.Prefixes) + len(req.Tags)
	switch {
	case n == 0:
		return errors.New(`nothing to purge: give "urls", "prefixes" or "tags" (POST /cache/clear empties everything)`)
	case n > maxPurgeItems:
		return fmt.Errorf("%d items; at most %d in one request", n, maxPurgeItems)
	}
	for _, l := range []struct {
		name string
		vals []string
	}{{"urls", req.URLs}, {"prefixes", req.Prefixes}, {"tags", req.Tags}} {
		for i, v := range l.vals {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("%s[%d] is empty", l.name, i)
			}
		}
	}
	for i, p := range req.Prefixes {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("prefixes[%d] %q: a prefix is the start of a path, beginning with /", i, p)
		}
	}
	return nil
}
