package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/admin"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	t := newAdminTarget()
	var prefix bool
	var limit int
	cmd := &cobra.Command{
		Use:   "inspect PATH-or-URL",
		Short: "Show what a running proxy has stored for a URL, and why",
		Long: `Show what a running proxy has stored for a URL: every variant (one per value of the
request fields its response varies on) with its age, remaining freshness, stale
windows, validators, size and tier, and why the last response for it was or was not
stored, in the words Cache-Status uses. With --prefix, list the stored URLs under it.

It finds the admin listener the way clear-cache does (--port, --admin-addr,
--admin-token and their CACHING_PROXY_ variables). The same data is JSON at
GET /cache/entries?url=... and GET /cache/explain?url=... on the admin listener.`,
		Example: `  caching-proxy inspect /products/1
  caching-proxy inspect 'https://api.example.com/search?q=shoes'
  caching-proxy inspect --prefix /v1/`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if prefix {
				return listPrefix(cmd.Context(), cmd.OutOrStdout(), t, args[0], limit)
			}
			return inspect(cmd.Context(), cmd.OutOrStdout(), t, args[0])
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	adminFlags(cmd.Flags(), &t)
	cmd.Flags().BoolVar(&prefix, "prefix", false, "list the stored URLs under the argument instead")
	cmd.Flags().IntVar(&limit, "limit", 100, "with --prefix: at most this many URLs (1-1000)")
	return cmd
}

// inspect prints the stored variants of target and the last decision about it.
func inspect(ctx context.Context, out io.Writer, t adminTarget, target string) error {
	q := "?url=" + url.QueryEscape(target)
	var es admin.Entries
	if err := t.call(ctx, http.MethodGet, "/cache/entries"+q, nil, nil, &es); err != nil {
		return err
	}
	var ex admin.Explanation
	if err := t.call(ctx, http.MethodGet, "/cache/explain"+q, nil, nil, &ex); err != nil {
		return err
	}
	printInspection(out, es, ex, time.Now())
	return nil
}

func printInspection(out io.Writer, es admin.Entries, ex admin.Explanation, now time.Time) {
	fmt.Fprintf(out, "%s\n", es.Key)
	if d := ex.Decision; d != nil {
		verdict := "stored"
		if !d.Stored {
			verdict = "not stored: " + d.Reason
		}
		fmt.Fprintf(out, "last origin response: %d to %s, %s ago, %s\n", d.Status, d.Method, ago(now.Sub(d.Time)), verdict)
	}
	fmt.Fprintf(out, "why: %s\n", ex.Summary)
	if len(es.Entries) == 0 {
		fmt.Fprintln(out, "\nnothing stored")
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tSTATUS\tAGE\tTTL\tFRESH FOR\tSWR\tSIE\tVALIDATORS\tSIZE\tTIER\tTAGS")
	for _, e := range es.Entries {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			variantName(e), e.Status, dur(e.Age), ttl(e), life(e), dur(e.StaleRevalidate), dur(e.StaleIfError),
			validators(e), humanize.IBytes(uint64(max(e.BodyBytes, 0))), strings.Join(e.Tiers, "+"), dash(strings.Join(e.Tags, " ")))
	}
	tw.Flush()
}

func listPrefix(ctx context.Context, out io.Writer, t adminTarget, prefix string, limit int) error {
	var p admin.KeyPage
	q := fmt.Sprintf("?prefix=%s&limit=%d", url.QueryEscape(prefix), limit)
	if err := t.call(ctx, http.MethodGet, "/cache/entries"+q, nil, nil, &p); err != nil {
		return err
	}
	for _, k := range p.Keys {
		fmt.Fprintln(out, k)
	}
	switch {
	case len(p.Keys) == 0:
		fmt.Fprintf(out, "nothing stored under %s\n", prefix)
	case p.Next != "":
		fmt.Fprintf(out, "(more: raise --limit, or GET /cache/entries?prefix=%s&after=%s)\n", url.QueryEscape(prefix), url.QueryEscape(p.Next))
	}
	return nil
}

func variantName(e admin.Entry) string {
	if len(e.Vary) == 0 {
		return "(any request)"
	}
	var parts []string
	for _, n := range e.Vary {
		v, ok := e.Request[n]
		if !ok {
			v = "(none)"
		}
		parts = append(parts, n+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func validators(e admin.Entry) string {
	var v []string
	if e.ETag != "" {
		v = append(v, "ETag "+e.ETag)
	}
	if e.LastModified != "" {
		v = append(v, "Last-Modified")
	}
	return dash(strings.Join(v, ", "))
}

func ttl(e admin.Entry) string {
	if e.TTL < 0 {
		return "stale " + dur(-e.TTL)
	}
	return dur(e.TTL)
}

func life(e admin.Entry) string {
	s := dur(e.Lifetime)
	switch {
	case e.NoCache:
		s += " (no-cache)"
	case e.Heuristic:
		s += " (heuristic)"
	}
	if e.MustRevalidate {
		s += " (must-revalidate)"
	}
	return s
}

func dur(s int64) string {
	if s == 0 {
		return "0"
	}
	return (time.Duration(s) * time.Second).String()
}

func ago(d time.Duration) string { return d.Round(time.Second).String() }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
