#!/usr/bin/env bash
# Load figures for the proxy, on loopback only (make bench). For each body size it
# starts a plain server (internal/bench/plainserver), an origin (the same program),
# the proxy in front of the origin and a stock httputil.ReverseProxy in front of it
# too, then runs wrk with the same settings against:
#
#   a  plain server, cacheable path          what Go serves from memory with no proxy
#   b  proxy, same path, warmed (a hit)      target: b/a >= 0.85 at 1KiB, >= 0.90 at 100KiB
#   ti, tg, tb, tz                           proxy hit on a text path (text/plain, same size): identity,
#                                            and the stored gzip, br and zstd copies (--compress)
#   o  origin, no-store path                 the origin direct: c's baseline
#   c  proxy, no-store path (pass-through)   what the proxy adds to a zero-work origin
#   r  stock httputil.ReverseProxy, no-store what any Go reverse proxy adds: c's floor
#   o1, c1, r1                               the same with one connection: added latency, no queueing
#   o+D, c+D, r+D                            the same against an origin that works D per request
#                                            (?delay=D; SLOW, default 10ms): target p50(c) <= 1.15 x p50(o)
#
# Pinning (with taskset and 2+ CPUs): the server measured (plain server, proxy or
# stock proxy) runs alone on CPU 0; wrk and the origin share CPU 1. So a plain server
# and the proxy get the same CPU for a and b, and in o, c and r the origin works
# under the same conditions while the proxy, as in production, does not take CPU
# from its origin.
#
# The "other" column is the share of the machine's CPU that neither wrk nor these
# servers used during the run: above a few percent, another tenant disturbed it.
# It prints figures and never fails on them: timing is not a test. It stops
# everything it started when it exits (on a TERM sent to the script alone, once the
# wrk run in progress ends; Ctrl-C stops wrk too, so at once).
#
# Environment: DURATION (10s), CONNS (64), THREADS (2), SIZES ("1024 102400"),
# LAT_CONNS (1, the unloaded runs; 0 skips them), SLOW ("10ms": origin work per
# request for the +D rows, a list; "" skips them), ORIGIN_DELAY (0: origin work for
# every other o, c, r row), PIN (auto: as above when taskset exists and there are
# 2+ CPUs; 0 turns it off).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SIZES=${SIZES:-1024 102400}
LAT_CONNS=${LAT_CONNS:-1}
ORIGIN_DELAY=${ORIGIN_DELAY:-0}
SLOW=${SLOW-10ms}
PIN=${PIN:-auto}

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

if ! command -v wrk >/dev/null; then
	echo "installing wrk" >&2
	apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

echo "building the proxy and the plain server" >&2
go build -o "$work/caching-proxy" ./cmd/caching-proxy
go build -o "$work/plainserver" ./internal/bench/plainserver

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
# and other: the share of the machine's CPU that neither wrk nor our servers used
# during the run (other tenants, steal). Figures taken with other above a few % are noise.
load() { # url conns [header]
	local out busy0 ours0 t0 wrk_cpu elapsed hz hdr=()
	[[ -n ${3:-} ]] && hdr=(-H "$3")
	busy0=$(cpu_busy) ours0=$(proc_cpu "${servers[@]}") t0=$(date +%s.%N)
	out=$({ TIMEFORMAT='%U %S'; time "${wrk_pin[@]}" wrk -t"$(($2 < THREADS ? $2 : THREADS))" -c"$2" -d"$DURATION" --latency "${hdr[@]}" "$1" >"$work/wrk.out"; } 2>&1)
	wrk_cpu=$(tail -n 1 <<<"$out" | awk '{print $1 + $2}') # time's line comes last
	elapsed=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {print t1 - t0}')
	hz=$(getconf CLK_TCK)
	other=$(awk -v b="$(($(cpu_busy) - busy0))" -v o="$(($(proc_cpu "${servers[@]}") - ours0))" -v w="$wrk_cpu" \
		-v hz="$hz" -v e="$elapsed" -v n="$(nproc)" 'BEGIN {x = ((b - o) / hz - w) / (e * n) * 100; if (x < 0) x = 0; printf "%.0f%%", x}')
	out=$(cat "$work/wrk.out")
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' <<<"$out")
}

declare -A RPS P50
text_rows=()
rows=()
run() { # id size label url conns [header]
	load "$4" "$5" "${6:-}"
	RPS[$1.$2]=$rps P50[$1.$2]=$p50
	rows+=("$(printf '%-7s %-8s %-34s %6s %10s %9s %9s %6s  %s' "$2" "$1" "$3" "$5" "$rps" "$p50" "$p99" "$other" "${errs:-}")")
	echo "  ${rows[-1]}" >&2
}

human() { (($1 >= 1024 && $1 % 1024 == 0)) && echo "$(($1 / 1024))KiB" || echo "${1}B"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)" >&2
echo "wrk: -t$THREADS -c$CONNS -d$DURATION --latency; pinning: $pinned; origin delay: $ORIGIN_DELAY" >&2

ap="" op="" pp="" rp="" # set by free_port
for size in $SIZES; do
	sz=$(human "$size")
	free_port ap
	free_port op
	free_port pp
	free_port rp
	plain=http://127.0.0.1:$ap origin=http://127.0.0.1:$op proxy=http://127.0.0.1:$pp stock=http://127.0.0.1:$rp
	"${server_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$ap" --size "$size" 2>"$work/plain.log" &
	apid=$!
	"${wrk_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$op" --size "$size" --delay "$ORIGIN_DELAY" 2>"$work/origin.log" &
	opid=$!
	"${server_pin[@]}" "$work/caching-proxy" start --host 127.0.0.1 --port "$pp" --admin-addr "127.0.0.1:$((pp + 1))" \
		--origin "$origin" --cache-size 256MiB --log-level warn 2>"$work/proxy.log" &
	ppid=$!
	"${server_pin[@]}" "$work/plainserver" --addr "127.0.0.1:$rp" --reverse-proxy "$origin" 2>"$work/stock.log" &
	rpid=$!
	pids+=("$apid" "$opid" "$ppid" "$rpid")
	servers=("$apid" "$opid" "$ppid" "$rpid")
	wait_up "$plain/healthz" "$work/plain.log"
	wait_up "$origin/healthz" "$work/origin.log"
	wait_up "$stock/healthz" "$work/stock.log"
	wait_up "http://127.0.0.1:$((pp + 1))/healthz" "$work/proxy.log"

	# Warm the cacheable path and check what each target answers.
	curl -fsS -o /dev/null "$proxy/cacheable"
	got=$(curl -fsS -D - -o /dev/null "$proxy/cacheable" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {print $2}')
	[[ $got == HIT ]] || { echo "warm-up: X-Cache $got on $proxy/cacheable, want HIT" >&2; exit 1; }
	got=$(curl -fsS -D - -o /dev/null "$proxy/nostore/x" | tr -d '\r' | awk -F': ' 'tolower($1) == "cache-status" {print $2}')
	[[ $got == *"detail=no-store"* ]] || { echo "pass-through: Cache-Status $got on $proxy/nostore/x, want no-store" >&2; exit 1; }

	curl -fsS -o /dev/null "$proxy/text/x"
	for c in gzip br zstd; do
		got=$(curl -fsS -H "Accept-Encoding: $c" -D - -o /dev/null "$proxy/text/x" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" {print $2}')
		[[ $got == "$c" ]] || { echo "text hit: Content-Encoding $got for Accept-Encoding $c, want $c" >&2; exit 1; }
	done

	echo "body $sz" >&2
	run a "$sz" "plain server, cacheable" "$plain/cacheable" "$CONNS"
	run b "$sz" "proxy hit" "$proxy/cacheable" "$CONNS"
	run ti "$sz" "proxy hit, text, identity" "$proxy/text/x" "$CONNS"
	for c in gzip br zstd; do
		run "t${c:0:1}" "$sz" "proxy hit, text, $c copy" "$proxy/text/x" "$CONNS" "Accept-Encoding: $c"
	done
	run o "$sz" "origin direct, no-store" "$origin/nostore/x" "$CONNS"
	run c "$sz" "proxy pass-through, no-store" "$proxy/nostore/x" "$CONNS"
	run r "$sz" "stock ReverseProxy, no-store" "$stock/nostore/x" "$CONNS"
	if ((LAT_CONNS > 0)); then
		run o1 "$sz" "origin direct, no-store" "$origin/nostore/x" "$LAT_CONNS"
		run c1 "$sz" "proxy pass-through, no-store" "$proxy/nostore/x" "$LAT_CONNS"
		run r1 "$sz" "stock ReverseProxy, no-store" "$stock/nostore/x" "$LAT_CONNS"
	fi
	for d in $SLOW; do
		run "o+$d" "$sz" "origin direct, no-store, $d" "$origin/nostore/x?delay=$d" "$CONNS"
		run "c+$d" "$sz" "proxy pass-through, $d" "$proxy/nostore/x?delay=$d" "$CONNS"
		run "r+$d" "$sz" "stock ReverseProxy, $d" "$stock/nostore/x?delay=$d" "$CONNS"
	done
	if [[ -s $work/proxy.log ]]; then
		echo "proxy log:" >&2
		tail -5 "$work/proxy.log" >&2
	fi
	stop "$ppid" "$rpid" "$opid" "$apid"
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

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)"
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency (single-connection rows: -c$LAT_CONNS); pinning: $pinned; origin delay: $ORIGIN_DELAY"
echo
printf '%-7s %-8s %-34s %6s %10s %9s %9s %6s  %s\n' size id target conns "req/s" "p50 µs" "p99 µs" other errors
for r in "${rows[@]}"; do echo "$r"; done
echo
first_slow=${SLOW%% *}
echo "hit: b/a req/s. pass-through: p50 of c against o (the target, <= +15%, at an origin that works ${first_slow:-n/a};"
echo "and at a zero-work origin), p50 and req/s of c against the stock proxy r, unloaded added latency c1 - o1."
echo
printf '%-7s %-18s %-20s %-22s %-24s %-20s\n' size "hit b/a (target)" "c vs o @${first_slow:-n/a}" "c vs o @0" "c vs r: p50, req/s" "c1 - o1 (c1 vs r1)"
for size in $SIZES; do
	sz=$(human "$size")
	target=0.90
	((size < 100 * 1024)) && target=0.85
	slow="n/a" unl="n/a"
	for d in $SLOW; do
		slow="$(overhead "${P50[c+$d.$sz]}" "${P50[o+$d.$sz]}") (<= +15%)"
		break # the first SLOW value is the target's
	done
	if ((LAT_CONNS > 0)); then
		unl="+$((P50[c1.$sz] - P50[o1.$sz])) µs ($(overhead "${P50[c1.$sz]}" "${P50[r1.$sz]}"))"
	fi
	text_rows+=("$(text_summary "$sz")")
	printf '%-7s %-18s %-20s %-22s %-24s %-20s\n' "$sz" "$(ratio "${RPS[b.$sz]}" "${RPS[a.$sz]}") (>= $target)" "$slow" \
		"$(overhead "${P50[c.$sz]}" "${P50[o.$sz]}")" \
		"$(overhead "${P50[c.$sz]}" "${P50[r.$sz]}"), $(ratio "${RPS[c.$sz]}" "${RPS[r.$sz]}")" "$unl"
done
echo
echo "text hit, req/s of each stored copy against identity (ti):"
for r in "${text_rows[@]}"; do echo "  $r"; done
