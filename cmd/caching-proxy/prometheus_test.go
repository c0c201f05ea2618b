package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/l2/redistest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

// deploy/prometheus and deploy/grafana against the real consumers: Debian's
// prometheus server scrapes a running proxy with deploy's scrape job and alert rules;
// its HTTP API must report the hit ratio the traffic implies, every rule healthy, and
// the origin-errors alert firing once the origin fails. The dashboard's queries must
// name only metrics a real scrape has, and run on the real Prometheus.

const promTimeout = 60 * time.Second

// prometheusServer is a running prometheus on a free loopback port.
type prometheusServer struct {
	url string
	out *os.File
}

// startPrometheus runs prometheus with config (YAML text) from dir, and stops it
// when the test ends. Without the binary the test fails in CI (CI=true) and is
// skipped elsewhere; make test installs it (make prometheus-deps).
func startPrometheus(t *testing.T, dir, config string) *prometheusServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		const msg = "prometheus is not installed; make prometheus-deps (apt-get install prometheus) installs it"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	out, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p := &prometheusServer{url: "http://" + addr, out: out}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		out.Close()
	})
	p.waitFor(t, "prometheus is ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start:\n%s", p.log())
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *prometheusServer) log() string {
	b, _ := os.ReadFile(p.out.Name())
	return string(b)
}

func (p *prometheusServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(promTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; prometheus log:\n%s", what, promTimeout, p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// api GETs a Prometheus HTTP API path and decodes its data field into out.
func (p *prometheusServer) api(t *testing.T, path string, q url.Values, out any) error {
	t.Helper()
	resp, err := http.Get(p.url + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

// query runs an instant query and returns its vector.
func (p *prometheusServer) query(t *testing.T, expr string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.api(t, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %s, want vector", expr, data.ResultType)
	}
	return data.Result, nil
}

func sampleValue(s promSample) float64 {
	v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return v
}

// testPrometheusConfig is deploy/prometheus/prometheus.yml with the caching-proxy job
// pointed at target, every other job dropped, 1s intervals so the test is quick, and
// rulesFile in place of rules.yml.
func testPrometheusConfig(t *testing.T, target, rulesFile string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []any{rulesFile}
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] == "caching-proxy" {
			job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
			jobs = append(jobs, job)
		}
	}
	if len(jobs) != 1 {
		t.Fatal("deploy/prometheus/prometheus.yml has no caching-proxy job")
	}
	cfg["scrape_configs"] = jobs
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// shortRules writes deploy/prometheus/rules.yml with every alert's `for` cut to 1s
// (they are minutes long; the expressions are untouched) and returns the file and the
// number of rules.
func shortRules(t *testing.T, dir string) (string, int) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string           `json:"name"`
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if _, ok := r["for"]; ok {
				r["for"] = "1s"
			}
		}
	}
	out, err := yaml.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, n
}

func TestPrometheusScrapesTheProxy(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "page "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	p := startProxy(t, o.URL)
	dir := t.TempDir()
	rulesFile, nRules := shortRules(t, dir)
	prom := startPrometheus(t, dir, testPrometheusConfig(t, p.admin, rulesFile))

	// 4 URLs, each one miss and 3 hits: a hit ratio of 12/16.
	c := httpClient(t)
	for i := range 4 {
		for range 4 {
			send(t, c, http.MethodGet, fmt.Sprintf("%s/page/%d", p.url, i))
		}
	}
	prom.waitFor(t, "caching_proxy_hit_ratio is 0.75", func() bool {
		s, err := prom.query(t, `caching_proxy_hit_ratio{job="caching-proxy"}`)
		return err == nil && len(s) == 1 && sampleValue(s[0]) == 0.75
	})

	// Every rule of deploy's rules.yml evaluates without error.
	type rule struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
		State     string `json:"state"`
	}
	var bad []string
	prom.waitFor(t, "every rule is healthy", func() bool {
		var data struct {
			Groups []struct {
				Rules []rule `json:"rules"`
			} `json:"groups"`
		}
		if err := prom.api(t, "/api/v1/rules", nil, &data); err != nil {
			return false
		}
		var all []rule
		for _, g := range data.Groups {
			all = append(all, g.Rules...)
		}
		bad = bad[:0]
		for _, r := range all {
			if r.Health != "ok" {
				bad = append(bad, fmt.Sprintf("%s: %s %s", r.Name, r.Health, r.LastError))
			}
		}
		return len(all) == nRules && len(bad) == 0
	})

	checkDashboard(t, prom, p.admin)

	// The origin fails: the origin-errors alert goes to firing.
	failing.Store(true)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/broken/%d", p.url, i), nil)
			if resp, err := c.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	prom.waitFor(t, "CachingProxyOriginErrors fires", func() bool {
		var data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := prom.api(t, "/api/v1/alerts", nil, &data); err != nil {
			return false
		}
		return slices.ContainsFunc(data.Alerts, func(a struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		}) bool {
			return a.Labels["alertname"] == "CachingProxyOriginErrors" && a.State == "firing"
		})
	})
}

// checkDashboard: every metric the Grafana dashboard's queries name is in a real
// scrape of the proxy and has series in Prometheus, and every query runs there.
func checkDashboard(t *testing.T, prom *prometheusServer, admin string) {
	t.Helper()
	exported := scrapedNames(t, "http://"+admin+"/metrics")
	exprs := dashboardExprs(t, "../../deploy/grafana/caching-proxy.json")
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for _, e := range exprs {
		for _, name := range metricNames(e) {
			if !exported[name] {
				t.Errorf("the dashboard queries %s, which the proxy does not export (query %s)", name, e)
			}
		}
		q := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1m",
			"${job}", "caching-proxy", "$job", "caching-proxy", "${instance}", ".*", "$instance", ".*").Replace(e)
		// A query may rightly be empty (memory limit panels filter out "no limit"), but
		// it must run, and each metric it names must have series from the proxy.
		if _, err := prom.query(t, q); err != nil {
			t.Errorf("dashboard query %s: %v", q, err)
		}
		for _, name := range metricNames(e) {
			sel := fmt.Sprintf(`count({__name__=%q, job="caching-proxy"})`, name)
			prom.waitFor(t, "Prometheus has series of "+name, func() bool {
				s, err := prom.query(t, sel)
				return err == nil && len(s) == 1 && sampleValue(s[0]) > 0
			})
		}
	}
}

// scrapedNames are the series names one scrape of url exposes (a histogram's
// _bucket, _sum and _count included).
func scrapedNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				names[name+"_bucket"] = true
			}
		}
	}
	return names
}

// dashboardExprs are the PromQL expressions of every panel (nested rows included) and
// the metric names of the template variables' label_values() queries.
func dashboardExprs(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					exprs = append(exprs, tg.Expr)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	lv := regexp.MustCompile(`label_values\(\s*([^,]+?)\s*,`)
	for _, v := range d.Templating.List {
		if m := lv.FindStringSubmatch(v.Definition); m != nil {
			exprs = append(exprs, m[1])
		}
	}
	return exprs
}

// metricNames lists the metric names a PromQL expression selects: identifiers that
// are not functions, aggregations, keywords, label names or inside strings, ranges
// and label matchers.
func metricNames(expr string) []string {
	for _, re := range []string{
		`"(?:[^"\\]|\\.)*"`, `'(?:[^'\\]|\\.)*'`, // strings
		`\{[^}]*\}`, `\[[^\]]*\]`, // label matchers, ranges
		`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`, // label lists
		`\boffset\s+\w+`, `\b\d[\w.+-]*`, // offsets, numbers
	} {
		expr = regexp.MustCompile(re).ReplaceAllString(expr, " ")
	}
	keywords := []string{"and", "or", "unless", "bool", "inf", "nan", "by", "without", "on", "ignoring", "group_left", "group_right"}
	var names []string
	for _, m := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`).FindAllStringSubmatch(expr, -1) {
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m[0]), "("), " ")
		if m[1] != "" || slices.Contains(keywords, strings.ToLower(name)) || slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`sum(rate(caching_proxy_requests_total{cache=~"hit|stale"}[5m])) / sum(rate(caching_proxy_requests_total[5m]))`,
			[]string{"caching_proxy_requests_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(caching_proxy_origin_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`,
			[]string{"caching_proxy_origin_request_duration_seconds_bucket"}},
		{`caching_proxy_l2_up == 0 and on (job, instance) caching_proxy_l2_errors_total > 0`,
			[]string{"caching_proxy_l2_up", "caching_proxy_l2_errors_total"}},
		{`1 - sum(x_total offset 5m) / (y + 1e3)`, []string{"x_total", "y"}},
		{`min by (instance) (go_gc_gomemlimit_bytes{job=~"a"})`, []string{"go_gc_gomemlimit_bytes"}},
	} {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%s) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
