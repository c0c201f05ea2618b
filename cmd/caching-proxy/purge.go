package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/caching-proxy/caching-proxy/internal/l2"
	"github.com/caching-proxy/caching-proxy/internal/policy"
	"github.com/caching-proxy/caching-proxy/internal/proxy"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// purgeFunc asks a running proxy to purge; a parameter so flags are tested without servers.
type purgeFunc func(ctx context.Context, t adminTarget, req admin.PurgeRequest) (string, error)

func newPurgeCmd(purge purgeFunc) *cobra.Command {
	t := newAdminTarget()
	var req admin.PurgeRequest
	cmd := &cobra.Command{
		Use:   "purge [--soft] [PATH-or-URL...] [--prefix PREFIX]... [--tag TAG]...",
		Short: "Invalidate chosen responses in the cache of a running proxy",
		Long: `Invalidate chosen responses in the cache of a running proxy: every Vary variant of
each URL given, every response whose path and query start with a --prefix, every
response tagged --tag (by Cache-Groups, Surrogate-Key or Cache-Tag). A URL may be a
path (/a?x=1) or an absolute URL, whose host is ignored. --soft marks them stale and
keeps them: the next request revalidates with the origin, or is served stale while
one refresh runs where stale-while-revalidate allows.

It finds the admin listener as clear-cache does. With a shared Redis tier every
replica is purged. See docs/invalidation.md.`,
		Example: `  caching-proxy purge /products/42 '/search?q=shoes'
  caching-proxy purge --prefix /v1/users/42/
  caching-proxy purge --tag product-42 --tag category-7
  caching-proxy purge --soft --tag product-42 --admin-addr 10.0.0.5:3001 --admin-token "$TOKEN"`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if len(args) > 0 {
				req.URLs = args
			}
			if len(req.URLs)+len(req.Prefixes)+len(req.Tags) == 0 {
				return usageError{errors.New("purge: name what to purge: URLs, --prefix or --tag (clear-cache empties everything)")}
			}
			msg, err := purge(cmd.Context(), t, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.BoolVar(&req.Soft, "soft", false, "mark stale and keep (revalidate on next use) instead of deleting")
	f.StringArrayVar(&req.Prefixes, "prefix", nil, "purge every response whose path and query start with this (repeatable)")
	f.StringArrayVar(&req.Tags, "tag", nil, "purge every response carrying this tag (repeatable)")
	adminFlags(f, &t)
	return cmd
}

// purgeCache sends req to the proxy at t and describes what it did.
func purgeCache(ctx context.Context, t adminTarget, req admin.PurgeRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var got admin.Purged
	if err := t.call(ctx, http.MethodPost, "/cache/purge", bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}}, &got); err != nil {
		return "", err
	}
	return describePurge(got, req.Soft, t.addr()), nil
}

func describePurge(got admin.Purged, soft bool, addr string) string {
	verb := "purged"
	if soft {
		verb = "marked stale"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d entries (%s) in the cache at %s", verb, got.Entries, humanize.IBytes(uint64(max(got.Bytes, 0))), addr)
	if sh := got.Shared; sh != nil {
		switch {
		case sh.Error != "":
			fmt.Fprintf(&b, "\nshared tier not reached, other replicas may keep copies: %s", sh.Error)
		default:
			fmt.Fprintf(&b, "\nshared tier: %d entries %s; every replica told", sh.Entries, verb)
			if sh.Scan == "background" {
				b.WriteString("\nshared tier: the prefix scan goes on in the background")
			}
		}
	}
	return b.String()
}

// purger adapts the proxy to the admin API: it turns every URL into a cache key first,
// so a request with one bad URL is refused whole and changes nothing.
type purger struct{ h *proxy.Handler }

func (p purger) Purge(req admin.PurgeRequest) (admin.Purged, error) {
	pp := proxy.Purge{Prefixes: req.Prefixes, Tags: req.Tags, Soft: req.Soft}
	for i, u := range req.URLs {
		k, err := proxy.PurgeKey(u)
		if err != nil {
			return admin.Purged{}, admin.Invalid("urls[%d] %q: %v", i, u, err)
		}
		pp.URLs = append(pp.URLs, k)
	}
	got := p.h.Purge(pp)
	out := admin.Purged{Entries: got.Entries, Bytes: got.Bytes}
	if sh := got.Shared; sh != nil {
		out.Shared = &admin.SharedPurged{Entries: sh.Entries}
		if sh.Scanning {
			out.Shared.Scan = "background"
		}
		if sh.Err != nil {
			out.Shared.Error = sh.Err.Error()
		}
	}
	return out, nil
}

// sharedPurger is the shared tier as the proxy's SharedPurger.
type sharedPurger struct{ *l2.Tier }

func (s sharedPurger) Purge(p proxy.Purge, restale func([]byte) ([]byte, bool)) proxy.SharedPurged {
	got, err := s.Tier.Purge(l2.Purge(p), restale)
	return proxy.SharedPurged{Entries: got.Entries, Scanning: got.Scanning, Err: err}
}

// tagFields turns --tag-header values (validated) into canonical field names; none means all.
func tagFields(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	fields := make([]string, 0, len(names))
	for _, n := range names {
		if f, ok := policy.TagField(n); ok {
			fields = append(fields, f)
		}
	}
	return fields
}
