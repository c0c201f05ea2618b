package proxy

import "net/url"

// Key returns the primary cache key of a request target under the operator's rules
// (Options.Key, policy.KeyRules.Key). Everything that names entries uses it: lookups,
// stores, invalidation, and the admin side's purge and inspection.
func (h *Handler) Key(u *url.URL) string { return h.opt.Key.Key(u) }
