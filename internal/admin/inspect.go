package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Inspector reports what the cache holds for a URL and why. url is a path and query
// as clients send it (or an absolute URL, whose path and query count); an error
// means url is not one, and is answered 400 with its text.
type Inspector interface {
	Entries(url string) (Entries, error)
	Explain(url string) (Explanation, error)
}

// KeyLister lists stored primary keys (path and query) under a prefix in order: at
// most limit keys greater than after, and whether more follow.
type KeyLister interface {
	Keys(prefix, after string, limit int) (keys []string, more bool)
}

// Entries is every stored variant of one URL.
type Entries struct {
	URL     string  `json:"url"`
	Key     string  `json:"key"`
	Entries []Entry `json:"entries"`
}

// Entry is one stored variant. Durations are whole seconds, as in Age and Cache-Status.
type Entry struct {
	Request         map[string]string `json:"request,omitempty"` // the request fields it varies on
	Vary            []string          `json:"vary,omitempty"`
	Status          int               `json:"status"`
	StoredAt        time.Time         `json:"stored_at"`
	Age             int64             `json:"age"`
	Lifetime        int64             `json:"freshness_lifetime"`
	TTL             int64             `json:"ttl"` // remaining freshness; negative when stale
	Heuristic       bool              `json:"heuristic,omitempty"`
	StaleRevalidate int64             `json:"stale_while_revalidate"`
	StaleIfError    int64             `json:"stale_if_error"`
	NoCache         bool              `json:"no_cache,omitempty"`
	MustRevalidate  bool              `json:"must_revalidate,omitempty"`
	ETag            string            `json:"etag,omitempty"`
	LastModified    string            `json:"last_modified,omitempty"`
	Size            int64             `json:"size"`
	BodyBytes       int64             `json:"body_bytes"`
	Tags            []string          `json:"tags,omitempty"`
	Tiers           []string          `json:"tiers"` // local, shared
}

// Explanation says why the last response for a URL was or was not stored.
type Explanation struct {
	URL             string     `json:"url"`
	Key             string     `json:"key"`
	Decision        *Decision  `json:"last_decision"` // null when none is remembered
	StoredVariants  int        `json:"stored_variants"`
	HitForMissUntil *time.Time `json:"hit_for_miss_until,omitempty"`
	Summary         string     `json:"summary"`
}

// Decision is the policy's verdict on one origin response.
type Decision struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Status int       `json:"status"`
	Stored bool      `json:"stored"`
	Reason string    `json:"reason,omitempty"` // the Cache-Status detail: no-store, private, ...
}

// KeyPage is one page of a prefix listing.
type KeyPage struct {
	Prefix string   `json:"prefix"`
	Keys   []string `json:"keys"`
	Next   string   `json:"next,omitempty"` // pass as after= for the next page
}

const (
	defaultPage = 100
	maxPage     = 1000
)

// inspection serves GET /cache/entries and GET /cache/explain. Stored responses can
// hold the origin's users' data, so with a token set only its holder reads them.
func inspection(mux *http.ServeMux, opt Options) {
	if opt.Inspector == nil {
		return
	}
	mux.Handle("GET /cache/entries", requireToken(opt.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch u, prefix := q.Get("url"), q.Get("prefix"); {
		case q.Has("url") && q.Has("prefix"):
			http.Error(w, "give url or prefix, not both", http.StatusBadRequest)
		case q.Has("prefix"):
			listKeys(w, opt.Keys, prefix, q)
		default:
			e, err := opt.Inspector.Entries(u)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			writeJSON(w, e)
		}
	})))
	mux.Handle("GET /cache/explain", requireToken(opt.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex, err := opt.Inspector.Explain(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ex.Summary == "" {
			ex.Summary = Summary(ex)
		}
		writeJSON(w, ex)
	})))
}

func listKeys(w http.ResponseWriter, l KeyLister, prefix string, q map[string][]string) {
	if l == nil {
		http.Error(w, "prefix listing is not available", http.StatusNotImplemented)
		return
	}
	limit := defaultPage
	if s := first(q["limit"]); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			http.Error(w, "limit: want 1 to "+strconv.Itoa(maxPage), http.StatusBadRequest)
			return
		}
		limit = n
	}
	keys, more := l.Keys(prefix, first(q["after"]), limit)
	page := KeyPage{Prefix: prefix, Keys: keys}
	if keys == nil {
		page.Keys = []string{}
	}
	if more && len(keys) > 0 {
		page.Next = keys[len(keys)-1]
	}
	writeJSON(w, page)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// reasons glosses each word the policy gives for not storing a response.
var reasons = map[string]string{
	"no-store":                "Cache-Control: no-store, on the response or the request",
	"private":                 "Cache-Control: private: only the user's own browser cache may store it",
	"authorization":           "the request carried Authorization and the response did not say public, s-maxage or must-revalidate (RFC 9111 §3.5)",
	"set-cookie":              "it sets a cookie and has no explicit freshness (max-age, s-maxage, Expires) or public: it is likely per user",
	"vary-star":               "Vary: * (no later request can be known to match)",
	"status":                  "its status is not cacheable without explicit freshness, or is never stored (1xx, 304, a 206 without one byte range)",
	"method":                  "only responses to GET are stored",
	"must-understand":         "Cache-Control: must-understand with a status this cache does not implement",
	"too-large":               "it is larger than --max-object-size",
	"stale":                   "it was stale on arrival, with no validator to revalidate it and no window to serve it stale (no freshness and no validator)",
	"incomplete-or-too-large": "its body ended early or grew past --max-object-size while streaming",
}

// Summary is one sentence on an explanation.
func Summary(ex Explanation) string {
	d := ex.Decision
	var s string
	switch {
	case d == nil:
		s = "no origin response for this URL was seen since start (or it was only ever a hit, a bypass or an unsafe method)"
	case d.Stored:
		s = "the last response (" + strconv.Itoa(d.Status) + ") was stored"
	default:
		s = "the last response (" + strconv.Itoa(d.Status) + ") was not stored: " + d.Reason
		if g := reasons[d.Reason]; g != "" {
			s += ": " + g
		}
	}
	s += "; " + strconv.Itoa(ex.StoredVariants) + " variant(s) stored now"
	if ex.HitForMissUntil != nil {
		s += "; requests go straight to the origin until " + ex.HitForMissUntil.UTC().Format(time.RFC3339)
	}
	return s
}
