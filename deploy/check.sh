#!/usr/bin/env bash
# Static checks for everything under deploy/ - no Docker engine or cluster needed.
# Run from anywhere (make deploy-check runs it from the repository root):
#
#   bash deploy/check.sh
#
#  - promtool (Debian's `prometheus` package, installed here if missing and root):
#    check config, check rules, and the rule unit tests in rules_test.yml
#  - every JSON file under deploy/grafana parses, and every PromQL expression in the
#    dashboards parses (promtool, via a throw-away rules file)
#  - every YAML file under deploy/ parses (python3 + PyYAML when present, else a
#    minimal check); Kubernetes objects have apiVersion/kind/metadata.name and
#    kustomization.yaml lists only files that exist
#  - metric names, env vars and flags used under deploy/ and in docs/deploy.md exist
#    in docs/contract.md
#
# Needs bash, coreutils, grep, sed and python3 or node (no extra packages).
# The checks against the real consumers (manifests decoded by k8s.io/api types, a
# running Prometheus server scraping the proxy, the dashboard against a real scrape)
# are Go tests: cmd/caching-proxy/kubernetes_test.go and prometheus_test.go.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME CMD...: run CMD, print ok/FAIL, show its output only on failure.
check() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		passed=$((passed + 1))
		printf 'ok   %s\n' "$name"
	else
		failed=$((failed + 1))
		printf 'FAIL %s\n' "$name"
		sed 's/^/     /' "$tmp/out"
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- promtool
install_promtool() {
	have promtool && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "promtool is missing; install Debian's prometheus package (as root) and retry" >&2
		return 1
	fi
	echo "installing promtool (Debian package prometheus)..."
	# --no-install-recommends: promtool ships in `prometheus` itself; the recommends
	# (node exporter and friends) would only add services and ports.
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus; } >"$tmp/apt.log" 2>&1; then
		cat "$tmp/apt.log" >&2
		return 1
	fi
	# The package enables a prometheus service (port 9090) and may start it; only the
	# promtool binary is wanted. Stop it where a service manager runs; never fail here.
	if have systemctl && [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus >/dev/null 2>&1 || true
	elif have service; then
		service prometheus stop >/dev/null 2>&1 || true
	fi
	have promtool
}

if install_promtool; then
	check "promtool check config deploy/prometheus/prometheus.yml" \
		promtool check config deploy/prometheus/prometheus.yml
	check "promtool check rules deploy/prometheus/rules.yml" \
		promtool check rules deploy/prometheus/rules.yml
	check "promtool test rules deploy/prometheus/rules_test.yml" \
		promtool test rules deploy/prometheus/rules_test.yml
else
	failed=$((failed + 1))
	echo "FAIL promtool unavailable: Prometheus config and rules not checked"
fi

# ------------------------------------------------------------ JSON / Grafana
json_ok() {
	if have python3; then
		python3 -m json.tool "$1" >/dev/null
	else
		node -e 'try { JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")) } catch (e) { console.error(process.argv[1] + ": " + e.message); process.exit(1) }' "$1"
	fi
}

# Writes every panel's PromQL as a recording rule into a rules file (as JSON, which
# is valid YAML), so `promtool check rules` parses each expression. Grafana's
# variables are replaced by values that keep the syntax.
dashboard_rules() {
	local js='
const fs = require("fs");
const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const rules = [];
const walk = (ps) => (ps || []).forEach((p) => {
  (p.targets || []).forEach((t) => {
    if (t.expr) rules.push({record: "dashboard:expr:" + rules.length,
      expr: t.expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m")
                  .replace(/\$\{?(\w+)\}?/g, ".*")});
  });
  walk(p.panels);
});
walk(d.panels);
if (!rules.length) { console.error("no PromQL expressions found"); process.exit(1); }
fs.writeFileSync(process.argv[2], JSON.stringify({groups: [{name: "dashboard", rules}]}));'
	local py='
import json, re, sys
d = json.load(open(sys.argv[1]))
rules = []
def walk(ps):
    for p in ps or []:
        for t in p.get("targets") or []:
            if t.get("expr"):
                e = re.sub(r"\$__rate_interval|\$__interval|\$__range", "5m", t["expr"])
                rules.append({"record": "dashboard:expr:%d" % len(rules), "expr": re.sub(r"\$\{?(\w+)\}?", ".*", e)})
        walk(p.get("panels"))
walk(d.get("panels"))
if not rules:
    sys.exit("no PromQL expressions found")
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))'
	if have python3; then python3 -c "$py" "$1" "$2"; else node -e "$js" "$1" "$2"; fi
}

dashboard_promql_ok() {
	dashboard_rules "$1" "$tmp/dashboard-rules.yml" && promtool check rules "$tmp/dashboard-rules.yml"
}

while IFS= read -r f; do
	check "JSON parses: $f" json_ok "$f"
	if have promtool && json_ok "$f" >/dev/null 2>&1; then
		check "PromQL parses: $f" dashboard_promql_ok "$f"
	fi
done < <(find deploy/grafana -type f -name '*.json' | sort)

# ------------------------------------------------------------------- YAML
yaml_ok() {
	if have python3 && python3 -c 'import yaml' 2>/dev/null; then
		python3 - "$1" <<'PY'
import os, sys, yaml
path = sys.argv[1]
try:
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
except yaml.YAMLError as e:
    sys.exit(str(e))
if not docs:
    sys.exit(f"{path}: no YAML documents")
if path.startswith(("deploy/kubernetes/", "deploy/kubernetes-tls/")):
    for d in docs:
        if d.get("kind") == "Kustomization":
            here = os.path.dirname(path)
            for r in d.get("resources", []):
                if not os.path.exists(os.path.join(here, r)):
                    sys.exit(f"{path}: resource {r} does not exist")
            continue
        missing = [k for k in ("apiVersion", "kind") if not d.get(k)]
        if not (d.get("metadata") or {}).get("name"):
            missing.append("metadata.name")
        if missing:
            sys.exit(f"{path}: a {d.get('kind', '?')} document lacks {', '.join(missing)}")
PY
	else
		# Minimal fallback without PyYAML: non-empty, no tab indentation.
		[ -s "$1" ] || { echo "$1: empty"; return 1; }
		if grep -n "$(printf '^ *\t')" "$1"; then
			echo "$1: tab used for indentation"
			return 1
		fi
	fi
}

if ! { have python3 && python3 -c 'import yaml' 2>/dev/null; }; then
	echo "note: python3 with PyYAML not found; YAML files get a minimal check only"
fi
while IFS= read -r f; do
	check "YAML parses: $f" yaml_ok "$f"
done < <(find deploy -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)

# -------------------------------------------------- names match the contract
contract_names_ok() {
	local contract=docs/contract.md files=(deploy) bad=0 name
	[ -f docs/deploy.md ] && files+=(docs/deploy.md)
	# Metrics: histogram series (_bucket/_sum/_count) belong to their base name.
	for name in $(grep -rhoE 'caching_proxy_[a-z0-9_]+' "${files[@]}" | sort -u); do
		grep -qw "$name" "$contract" && continue
		grep -qw "$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")" "$contract" && continue
		echo "metric $name is not in $contract"
		bad=1
	done
	for name in $(grep -rhoE 'CACHING_PROXY_[A-Z0-9_]+' "${files[@]}" | sort -u); do
		grep -qw "$name" "$contract" || { echo "env var $name is not in $contract"; bad=1; }
	done
	# Flags passed to the proxy in the Kubernetes manifest.
	for name in $(grep -hoE '^\s*- --[a-z-]+' deploy/kubernetes/deployment.yaml deploy/kubernetes-tls/deployment-tls.yaml | sed -E 's/.*- //' | sort -u); do
		grep -qe "| $name |" "$contract" || { echo "flag $name is not in $contract"; bad=1; }
	done
	return "$bad"
}
check "metric, env var and flag names match docs/contract.md" contract_names_ok

# ------------------------------------------- shared-tier URLs and topology
# Every CACHING_PROXY_REDIS_URL under deploy/ uses a scheme the proxy takes
# (internal/config RedisSchemes), and a cluster URL's addresses name what the same
# example runs: compose services of that file, or pods of a StatefulSet (name-N.service,
# N below its replicas) in that kustomization's directory.
redis_urls_ok() {
	python3 - <<'PY'
import glob, os, re, sys
from urllib.parse import urlsplit, parse_qs
src = open("internal/config/config.go").read()
body = re.search(r"func RedisSchemes\(\) \[\]string \{(.*?)\n\}", src, re.S)
if not body:
    sys.exit("RedisSchemes not found in internal/config/config.go")
schemes = set(re.findall(r'"([a-z+]+)"', body.group(1)))
try:
    import yaml
except ImportError:
    yaml = None
bad = 0
files = sorted(glob.glob("deploy/**/*.yaml", recursive=True) + glob.glob("deploy/**/*.yml", recursive=True))
for f in files:
    text = open(f).read()
    for m in re.finditer(r'CACHING_PROXY_REDIS_URL:\s*"?([^"\s]+)"?', text):
        url = m.group(1)
        if url.startswith("${"):
            continue
        u = urlsplit(url)
        if u.scheme.lower() not in schemes:
            print(f"{f}: CACHING_PROXY_REDIS_URL scheme {u.scheme!r} is not one of {sorted(schemes)}"); bad = 1
            continue
        if "+cluster" not in u.scheme or yaml is None:
            continue
        hosts = [u.hostname] + [a.rsplit(":", 1)[0] for a in parse_qs(u.query).get("addr", [])]
        if os.path.basename(f).startswith("compose"):
            services = (yaml.safe_load(text) or {}).get("services", {})
            for h in hosts:
                if h not in services:
                    print(f"{f}: cluster address {h} is not a service of this file"); bad = 1
            continue
        sts = {}
        for g in glob.glob(os.path.join(os.path.dirname(f), "*.yaml")):
            for d in yaml.safe_load_all(open(g)):
                if d and d.get("kind") == "StatefulSet":
                    sts[d["metadata"]["name"]] = d["spec"]
        for h in hosts:
            m2 = re.fullmatch(r"(.+)-(\d+)\.([^.]+)(\..*)?", h or "")
            spec = sts.get(m2.group(1)) if m2 else None
            if not spec or int(m2.group(2)) >= spec.get("replicas", 1) or spec.get("serviceName") != m2.group(3):
                print(f"{f}: cluster address {h} is no pod of a StatefulSet in {os.path.dirname(f)}"); bad = 1
sys.exit(bad)
PY
}
if have python3; then
	check "shared-tier URLs use accepted schemes and name what the examples run" redis_urls_ok
fi

# ------------------------------------------------------------------ summary
echo "deploy-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
