#!/usr/bin/env bash
# Load figures for the proxy, on loopback only (make bench). For each body size it
# starts a plain server (internal/bench/plainserver), an origin (the same program),
# the proxy in front of the origin, a stock httputil.ReverseProxy and nginx
# (internal/bench/nginx.conf: proxy_pass over a keep-alive upstream pool, no cache, no
# access log) in front of it too, then runs wrk with the same settings against each
# row, ROUNDS times, the rows interleaved within each round, and reports medians:
#
#   a  plain server, cacheable path          what Go serves from memory with no proxy: the limit
#   b  proxy, same path, warmed (a hit)      target: CPU per hit <= a's (b runs with --access-log off)
#   bl b with the JSON access log to a file  target: bl/b req/s >= 0.90; CPU per hit beside b's
#   ti, tg, tb, tz                           proxy hit on a text path (text/plain, same size): identity,
#                                            and the stored gzip, br and zstd copies (--compress)
#   o  origin, no-store path                 the origin direct
#   c  proxy, no-store path (pass-through)   target: CPU <= 45 µs at 1KiB, req/s >= 0.45 x o's
#   n  nginx, no-store path                  the anchor
#   nf nginx sending our request fields      n plus Via, X-Forwarded-Proto and Surrogate-Capability,
#                                            the fields the proxy adds: target origin CPU under
#                                            c <= under nf (the same request, so the clients compare)
#   r  stock httputil.ReverseProxy, no-store what any Go reverse proxy with net/http's client costs
#   o1, c1, r1                               the same with one connection: added latency, no queueing
#   o+D, c+D, r+D                            the same against an origin that works D per request
#                                            (?delay=D; SLOW, default 10ms): target p50(c) <= 1.15 x p50(o)
#
# Every row reports req/s, p50 and p99 (wrk), and the CPU time per request of the
# server measured and of the origin (utime + stime from /proc/PID/stat before and after
# the run, divided by the requests wrk counted). CPU per request is the figure to read
# on a shared machine: it moves far less with other tenants than req/s does.
#
# Rows are declared with row (id, label, url, connections, pids of the server measured,
# and optionally one request header);
# to add one, start its server next to the others and add a row line.
#
# Pinning (with taskset and 2+ CPUs): the server measured (plain server, proxy, stock
# proxy, nginx) runs alone on CPU 0; wrk and the origin share CPU 1. So a plain server
# and the proxy get the same CPU for a and b, and in o, c, n and r the origin works
# under the same conditions while the proxy, as in production, does not take CPU
# from its origin.
#
# The "other" column is the share of the machine's CPU that neither wrk nor these
# servers used during the run: above a few percent, another tenant disturbed it.
# It prints figures and never fails on them: timing is not a test. It stops
# everything it started when it exits (on a TERM sent to the script alone, once the
# wrk run in progress ends; Ctrl-C stops wrk too, so at once).
#
# Environment: DURATION (5s per run), ROUNDS (3), CONNS (64), THREADS (2), SIZES
# ("1024 102400"; set but empty, only the memory step runs), LAT_CONNS (1, the
# unloaded rows; 0 skips them), SLOW ("10ms": origin
# work per request for the +D rows, a list; "" skips them), ORIGIN_DELAY (0: origin
# work for every other row), NGINX (1; 0 skips the nginx row), PIN (auto: as above when
# taskset exists and there are 2+ CPUs; 0 turns it off), MEM (1: the memory step; 0
# skips it), MEM_OBJECTS (20000), MEM_HEADROOM ("": more --gc-headroom values for
# the memory step, a list, e.g. "8MiB 4MiB").
#
# The memory step starts a fresh proxy (default flags, --access-log off) in front of
# an origin of 1 KiB bodies, reads its RSS (/proc/PID/status), fills MEM_OBJECTS
# distinct objects through it (internal/bench/memfill), waits 2 s and reads RSS again:
# target growth per stored object <= 2,000 B. Then it serves one of the stored objects
# for DURATION (wrk, CONNS connections, pinned as above) and prints the proxy's CPU
# per hit and the collections it ran: with the cache filled the live heap is large
# enough for --gc-headroom to set how often Go collects, which the hit rows (one
# stored object) do not show. It does so with --gc-headroom 0 (Go's default GOGC=100)
# too, for comparison, and with each value of MEM_HEADROOM.
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
NGINX=${NGINX:-1}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SIZES=${SIZES-1024 102400}
LAT_CONNS=${LAT_CONNS:-1}
ORIGIN_DELAY=${ORIGIN_DELAY:-0}
SLOW=${SLOW-10ms}
PIN=${PIN:-auto}
MEM=${MEM:-1}
MEM_OBJECTS=${MEM_OBJECTS:-20000}
MEM_HEADROOM=${MEM_HEADROOM:-}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/caching-proxy-bench.XXXXXX)
pids=()
servers=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need=()
command -v wrk >/dev/null || need+=(wrk)
if [[ $NGINX != 0 ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
	need+=(nginx-light)
fi
if ((${#need[@]})); then
	echo "installing ${need[*]}" >&2
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "building the proxy and the plain server" >&2
go build -o "$work/caching-proxy" ./cmd/caching-proxy
go build -o "$work/plainserver" ./internal/bench/plainserver
go build -o "$work/memfill" ./internal/bench/memfill

server_pin=() wrk_pin=() pinned="no"
if [[ $PIN != 0 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
	server_pin=(taskset -c 0) wrk_pin=(taskset -c 1) pinned="measured server on CPU 0, wrk and origin on CPU 1"
fi

used_ports=" "
# free_port sets the variable named $1 to a loopback port that is free, as is the one
# after it (the proxy's admin listener), and that this script has not handed out yet.
# Ports come from 10000-29999, below Linux's ephemeral range (32768-60999), where
# wrk's and the proxy's own outgoing connections could hold them.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % 20000))
		[[ $used_ports == *" $p "* || $used_ports == *" $((p + 1)) "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; then
			used_ports+="$p $((p + 1)) "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

wait_up() { # url [log]
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1 did not come up" >&2
	[[ -n ${2:-} ]] && tail -5 "$2" >&2
	return 1
}

stop() { # pid...
	local pid
	for pid in "$@"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# to_us converts a wrk duration (812.00us, 1.20ms, 1.00s) to microseconds.
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "ns") n /= 1000; else if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
		printf "%.0f", n }'
}

cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; } # ticks, all CPUs
proc_cpu() {                                                                  # ticks used by the pids given
	local p t=0
	for p in "$@"; do
		[[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# load runs wrk against url with conns connections and sets rps, p50, p99 (µs), errs,
# cpu and ocpu (CPU µs per request of the pids in $3 and of the origin), and other: the
# share of the machine's CPU that neither wrk nor our servers used during the run
# (other tenants, steal). Figures taken with other above a few % are noise.
load() { # url conns "pids measured" [header]
	local out busy0 ours0 t0 wrk_cpu elapsed hz s0 o0 s1 o1 n hdr=()
	[[ -n ${4:-} ]] && hdr=(-H "$4")
	busy0=$(cpu_busy) ours0=$(proc_cpu "${servers[@]}") t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # $3 is a list of pids
	s0=$(proc_cpu $3) o0=$(proc_cpu "$opid")
	out=$({ TIMEFORMAT='%U %S'; time "${wrk_pin[@]}" wrk -t"$(($2 < THREADS ? $2 : THREADS))" -c"$2" -d"$DURATION" --latency "${hdr[@]}" "$1" >"$work/wrk.out"; } 2>&1)
	# shellcheck disable=SC2086
	s1=$(proc_cpu $3) o1=$(proc_cpu "$opid")
	wrk_cpu=$(tail -n 1 <<<"$out" | awk '{print $1 + $2}') # time's line comes last
	elapsed=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {print t1 - t0}')
	hz=$(getconf CLK_TCK)
	other=$(awk -v b="$(($(cpu_busy) - busy0))" -v o="$(($(proc_cpu "${servers[@]}") - ours0))" -v w="$wrk_cpu" \
		-v hz="$hz" -v e="$elapsed" -v n="$(nproc)" 'BEGIN {x = ((b - o) / hz - w) / (e * n) * 100; if (x < 0) x = 0; printf "%.0f", x}')
	out=$(cat "$work/wrk.out")
	n=$(awk '/ requests in / {print $1}' <<<"$out")
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	cpu=$(awk -v t="$((s1 - s0))" -v hz="$hz" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0}')
	ocpu=$(awk -v t="$((o1 - o0))" -v hz="$hz" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0}')
	errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' <<<"$out")
}

# row declares one row of the current size: id, label, url, connections, pids measured,
# and optionally a request header ("Name: value").
row() { ids+=("$1") label[$1]=$2 url[$1]=$3 conns[$1]=$4 spids[$1]=$5 header[$1]=${6:-}; }

# median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A RPS P50 CPU OCPU label url conns spids header
text_rows=()
rows=()
# measure runs every declared row ROUNDS times, interleaved, and keeps the medians.
measure() { # size
	local r id
	declare -A m_rps m_p50 m_p99 m_cpu m_ocpu m_other m_errs
	for r in $(seq 1 "$ROUNDS"); do
		for id in "${ids[@]}"; do
			load "${url[$id]}" "${conns[$id]}" "${spids[$id]}" "${header[$id]}"
			m_rps[$id]+="$rps " m_p50[$id]+="$p50 " m_p99[$id]+="$p99 " m_cpu[$id]+="$cpu " m_ocpu[$id]+="$ocpu " m_other[$id]+="$other "
			[[ -n ${errs:-} ]] && m_errs[$id]+="$errs"
			printf '  round %d  %-7s %-8s %8s req/s  p50 %6s µs  cpu %6s µs/req  origin %6s µs/req  other %s%%\n' "$r" "$1" "$id" "$rps" "$p50" "$cpu" "$ocpu" "$other" >&2
		done
	done
	for id in "${ids[@]}"; do
		# shellcheck disable=SC2086 # lists of numbers
		RPS[$id.$1]=$(median ${m_rps[$id]}) P50[$id.$1]=$(median ${m_p50[$id]}) CPU[$id.$1]=$(median ${m_cpu[$id]}) OCPU[$id.$1]=$(median ${m_ocpu[$id]})
		# shellcheck disable=SC2086
		rows+=("$(printf '%-7s %-8s %-34s %6s %9.0f %8.0f %8.0f %9s %9s %6s  %s' "$1" "$id" "${label[$id]}" "${conns[$id]}" \
			"${RPS[$id.$1]}" "${P50[$id.$1]}" "$(median ${m_p99[$id]})" "${CPU[$id.$1]}" "${OCPU[$id.$1]}" "$(median ${m_other[$id]})%" "${m_errs[$id]:-}")")
	done
}

human() { (($1 >= 1024 && $1 % 1024 == 0)) && echo "$(($1 / 1024))KiB" || echo "${1}B"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)" >&2
echo "wrk: -t$THREADS -c$CONNS -d$DURATION --latency; pinning: $pinned; origin delay: $ORIGIN_DELAY" >&2

ap="" op="" pp="" rp="" np="" fp="" lp="" # set by free_port
for size in $SIZES; do
	sz=$(human "$size")
	free_port ap
	free_port op
	free_port pp
	free_port rp
	free_port np
	free_port fp
	free_port lp
	plain=http://127.0.0.1:$ap origin=http://127.0.0.1:$op proxy=http://127.0.0.1:$pp stock=http://127.0.0.1:$rp ngx=http://127.0.0.1:$np ngxf=http://127.0.0.1:$fp
	"${server_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$ap" --size "$size" 2>"$work/plain.log" &
	apid=$!
	"${wrk_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$op" --size "$size" --delay "$ORIGIN_DELAY" 2>"$work/origin.log" &
	opid=$!
	"${server_pin[@]}" "$work/caching-proxy" start --host 127.0.0.1 --port "$pp" --admin-addr "127.0.0.1:$((pp + 1))" \
		--origin "$origin" --cache-size 256MiB --log-level warn --access-log off 2>"$work/proxy.log" &
	ppid=$!
	"${server_pin[@]}" "$work/caching-proxy" start --host 127.0.0.1 --port "$lp" --admin-addr "127.0.0.1:$((lp + 1))" \
		--origin "$origin" --cache-size 256MiB --log-level warn --access-log "$work/access.log" --access-log-format json 2>"$work/proxyl.log" &
	lpid=$!
	"${server_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$rp" --reverse-proxy "$origin" 2>"$work/stock.log" &
	rpid=$!
	pids+=("$apid" "$opid" "$ppid" "$rpid" "$lpid")
	servers=("$apid" "$opid" "$ppid" "$rpid" "$lpid")
	npids=""
	if [[ $NGINX != 0 ]]; then
		mkdir -p "$work/nginx"
		sed "s#@WORK@#$work/nginx#g; s#@PORT@#$np#g; s#@FPORT@#$fp#g; s#@ORIGIN@#127.0.0.1:$op#g" internal/bench/nginx.conf >"$work/nginx/nginx.conf"
		"${server_pin[@]}" "$nginx_bin" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx.log" 2>&1 &
		npid=$!
		pids+=("$npid")
		wait_up "$ngx/healthz" "$work/nginx/error.log"
		wait_up "$ngxf/healthz" "$work/nginx/error.log"
		npids="$npid $(cat "/proc/$npid/task/$npid/children" 2>/dev/null)" # master and worker
		# shellcheck disable=SC2206
		servers+=($npids)
	fi
	wait_up "$plain/healthz" "$work/plain.log"
	wait_up "$origin/healthz" "$work/origin.log"
	wait_up "$stock/healthz" "$work/stock.log"
	wait_up "http://127.0.0.1:$((pp + 1))/healthz" "$work/proxy.log"
	wait_up "http://127.0.0.1:$((lp + 1))/healthz" "$work/proxyl.log"

	# Warm the cacheable path and check what each target answers.
	curl -fsS -o /dev/null "$proxy/cacheable"
	curl -fsS -o /dev/null "http://127.0.0.1:$lp/cacheable"
	got=$(curl -fsS -D - -o /dev/null "$proxy/cacheable" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {print $2}')
	[[ $got == HIT ]] || { echo "warm-up: X-Cache $got on $proxy/cacheable, want HIT" >&2; exit 1; }
	got=$(curl -fsS -D - -o /dev/null "$proxy/nostore/x" | tr -d '\r' | awk -F': ' 'tolower($1) == "cache-status" {print $2}')
	[[ $got == *"detail=no-store"* ]] || { echo "pass-through: Cache-Status $got on $proxy/nostore/x, want no-store" >&2; exit 1; }
	curl -fsS -o /dev/null "$proxy/text/x"
	for c in gzip br zstd; do
		got=$(curl -fsS -H "Accept-Encoding: $c" -D - -o /dev/null "$proxy/text/x" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" {print $2}')
		[[ $got == "$c" ]] || { echo "text hit: Content-Encoding $got for Accept-Encoding $c, want $c" >&2; exit 1; }
	done

	ids=()
	row a "plain server, cacheable" "$plain/cacheable" "$CONNS" "$apid"
	row b "proxy hit" "$proxy/cacheable" "$CONNS" "$ppid"
	row bl "proxy hit, JSON log to a file" "http://127.0.0.1:$lp/cacheable" "$CONNS" "$lpid"
	row ti "proxy hit, text, identity" "$proxy/text/x" "$CONNS" "$ppid"
	for c in gzip br zstd; do
		row "t${c:0:1}" "proxy hit, text, $c copy" "$proxy/text/x" "$CONNS" "$ppid" "Accept-Encoding: $c"
	done
	row o "origin direct, no-store" "$origin/nostore/x" "$CONNS" "$opid"
	row c "proxy pass-through, no-store" "$proxy/nostore/x" "$CONNS" "$ppid"
	[[ $NGINX != 0 ]] && row n "nginx pass-through, no-store" "$ngx/nostore/x" "$CONNS" "$npids"
	[[ $NGINX != 0 ]] && row nf "nginx, our request fields" "$ngxf/nostore/x" "$CONNS" "$npids"
	row r "stock ReverseProxy, no-store" "$stock/nostore/x" "$CONNS" "$rpid"
	if ((LAT_CONNS > 0)); then
		row o1 "origin direct, no-store" "$origin/nostore/x" "$LAT_CONNS" "$opid"
		row c1 "proxy pass-through, no-store" "$proxy/nostore/x" "$LAT_CONNS" "$ppid"
		row r1 "stock ReverseProxy, no-store" "$stock/nostore/x" "$LAT_CONNS" "$rpid"
	fi
	for d in $SLOW; do
		row "o+$d" "origin direct, no-store, $d" "$origin/nostore/x?delay=$d" "$CONNS" "$opid"
		row "c+$d" "proxy pass-through, $d" "$proxy/nostore/x?delay=$d" "$CONNS" "$ppid"
		row "r+$d" "stock ReverseProxy, $d" "$stock/nostore/x?delay=$d" "$CONNS" "$rpid"
	done
	echo "body $sz" >&2
	measure "$sz"
	if [[ -s $work/proxy.log ]]; then
		echo "proxy log:" >&2
		tail -5 "$work/proxy.log" >&2
	fi
	echo "access log: $(wc -l <"$work/access.log") lines, $(curl -fsS "http://127.0.0.1:$((lp + 1))/metrics" | awk '/^caching_proxy_access_log_dropped_total/ {print $2}') dropped" >&2
	# shellcheck disable=SC2086
	stop "$ppid" "$lpid" "$rpid" "$opid" "$apid" ${npid:-}
	rm -f "$work/access.log"
	npid=""
done

text_summary() { # size: the text rows' req/s against identity
	local c line="$1"
	for c in gzip br zstd; do
		line+=$(printf '  %s %sx' "$c" "$(ratio "${RPS[t${c:0:1}.$1]}" "${RPS[ti.$1]}")")
	done
	echo "$line"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
overhead() { awk -v c="$1" -v o="$2" 'BEGIN { if (o > 0) printf "%+.0f%%", (c / o - 1) * 100; else print "n/a" }'; }

if [[ -n $SIZES ]]; then # the load rows ran: their table and summaries
	echo
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency (single-connection rows: -c$LAT_CONNS), medians of $ROUNDS interleaved rounds; pinning: $pinned; origin delay: $ORIGIN_DELAY"
	echo
	printf '%-7s %-8s %-34s %6s %9s %8s %8s %9s %9s %6s  %s\n' size id target conns "req/s" "p50 µs" "p99 µs" "cpu µs/r" "orig µs/r" other errors
	for r in "${rows[@]}"; do echo "$r"; done
	echo
	first_slow=${SLOW%% *}
	echo "cpu: CPU µs per request of the server measured (nginx: master + worker); orig: of the origin, in the same run."
	echo "hit: b's CPU per hit against a's (target <= 1.00). pass-through: c's CPU (target <= 45 µs at 1KiB), c/o req/s"
	echo "(target >= 0.45; nginx n/o beside it), origin CPU under c against under nf, nginx sending the same request"
	echo "fields (target <= 1.00; under n, nginx's default fields, beside it), p50 of c against o"
	echo "at an origin that works ${first_slow:-n/a} (<= +15%), unloaded added latency c1 - o1."
	echo
	printf '%-7s %-12s %-12s %-14s %-16s %-14s %-16s %-12s\n' size "hit cpu b/a" "c cpu µs" "c/o (n/o)" "orig c/nf (c/n)" "c/r req/s" "c vs o @${first_slow:-n/a}" "c1 - o1"
	for size in $SIZES; do
		sz=$(human "$size")
		slow="n/a" unl="n/a" nrat="n/a" orat="n/a"
		for d in $SLOW; do
			slow="$(overhead "${P50[c+$d.$sz]}" "${P50[o+$d.$sz]}")"
			break # the first SLOW value is the target's
		done
		if ((LAT_CONNS > 0)); then
			unl="+$(awk -v c="${P50[c1.$sz]}" -v o="${P50[o1.$sz]}" 'BEGIN {printf "%.0f", c - o}') µs"
		fi
		if [[ $NGINX != 0 ]]; then
			nrat=$(ratio "${RPS[n.$sz]}" "${RPS[o.$sz]}")
			orat="$(ratio "${OCPU[c.$sz]}" "${OCPU[nf.$sz]}") ($(ratio "${OCPU[c.$sz]}" "${OCPU[n.$sz]}"))"
		fi
		text_rows+=("$(text_summary "$sz")")
		log_rows+=("$(printf '%-7s bl/b req/s %s (target >= 0.90); CPU per hit %s µs with the JSON log, %s µs without (%s)' "$sz" \
			"$(ratio "${RPS[bl.$sz]}" "${RPS[b.$sz]}")" "${CPU[bl.$sz]}" "${CPU[b.$sz]}" "$(overhead "${CPU[bl.$sz]}" "${CPU[b.$sz]}")")")
		printf '%-7s %-12s %-12s %-14s %-16s %-14s %-16s %-12s\n' "$sz" "$(ratio "${CPU[b.$sz]}" "${CPU[a.$sz]}")" "${CPU[c.$sz]}" \
			"$(ratio "${RPS[c.$sz]}" "${RPS[o.$sz]}") ($nrat)" "$orat" "$(ratio "${RPS[c.$sz]}" "${RPS[r.$sz]}")" "$slow" "$unl"
	done
	echo
	echo "text hit, req/s of each stored copy against identity (ti):"
	for r in "${text_rows[@]}"; do echo "  $r"; done
	echo
	echo "access log (bl against b, the same hit with --access-log off):"
	for r in "${log_rows[@]}"; do echo "  $r"; done
fi

# mem_step fills MEM_OBJECTS objects through a fresh proxy started with the flags
# given and prints its RSS growth per stored object, then its CPU per hit of one of
# them under load and the collections Go ran meanwhile.
mem_step() { # proxy flags...
	local op pp opid ppid before after entries heap line metrics gc0 gc1 c0 c1 n xcache
	free_port op
	free_port pp
	"${wrk_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$op" --size 1024 2>"$work/memorigin.log" &
	opid=$!
	"${server_pin[@]}" "$work/caching-proxy" start --host 127.0.0.1 --port "$pp" --admin-addr "127.0.0.1:$((pp + 1))" \
		--origin "http://127.0.0.1:$op" --log-level warn --access-log off "$@" 2>"$work/memproxy.log" &
	ppid=$!
	pids+=("$opid" "$ppid")
	wait_up "http://127.0.0.1:$op/healthz" "$work/memorigin.log"
	wait_up "http://127.0.0.1:$((pp + 1))/healthz" "$work/memproxy.log"
	metrics="http://127.0.0.1:$((pp + 1))/metrics"
	sleep 1
	before=$(awk '/^VmRSS/ {print $2}' "/proc/$ppid/status")
	line=$("$work/memfill" --base "http://127.0.0.1:$pp" --n "$MEM_OBJECTS")
	sleep 2
	after=$(awk '/^VmRSS/ {print $2}' "/proc/$ppid/status")
	entries=$(curl -fsS "$metrics" | awk '/^caching_proxy_cache_entries / {printf "%d", $2}')
	heap=$(curl -fsS "$metrics" | awk '/^go_memstats_heap_alloc_bytes / {printf "%.1f", $2 / 1048576}')
	printf '  %-22s RSS %6.1f -> %6.1f MiB, %d entries, %5d B per stored object (target <= 2000); heap in use %s MiB\n' \
		"${*:-defaults}" "$(awk -v k="$before" 'BEGIN {print k / 1024}')" "$(awk -v k="$after" 'BEGIN {print k / 1024}')" \
		"$entries" "$(((after - before) * 1024 / (entries > 0 ? entries : 1)))" "$heap"
	echo "    memfill: $line"
	gc0=$(curl -fsS "$metrics" | awk '/^go_gc_duration_seconds_count / {print $2}')
	c0=$(proc_cpu "$ppid")
	"${wrk_pin[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$pp/mem/7" >"$work/memwrk.out"
	c1=$(proc_cpu "$ppid")
	gc1=$(curl -fsS "$metrics" | awk '/^go_gc_duration_seconds_count / {print $2}')
	n=$(awk '/ requests in / {print $1}' "$work/memwrk.out")
	xcache=$(curl -fsS -o /dev/null -w '%header{x-cache}' "http://127.0.0.1:$pp/mem/7")
	printf '    then %s of 1KiB hits on the filled cache: %s µs CPU per hit (X-Cache %s), %d GCs, RSS %.1f MiB\n' "$DURATION" \
		"$(awk -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0}')" \
		"$xcache" "$((gc1 - gc0))" "$(awk '/^VmRSS/ {print $2 / 1024}' "/proc/$ppid/status")"
	stop "$ppid" "$opid"
}

if [[ $MEM != 0 ]]; then
	echo
	echo "memory: RSS growth over $MEM_OBJECTS distinct 1KiB objects, each through a fresh proxy (default --cache-size 256MiB):"
	mem_step
	mem_step --gc-headroom 0
	for h in $MEM_HEADROOM; do
		mem_step --gc-headroom "$h"
	done
fi
