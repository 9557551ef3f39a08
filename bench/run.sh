#!/usr/bin/env bash
# Measures opsorch against nginx `return 200` on the same machine, in the same run, and prints
# the ratios as a Markdown table (method and targets: docs/BENCHMARKS.md).
#
# Usage: bench/run.sh        (or: make bench)
#
# Environment (all optional):
#   BUILD           build directory holding the opsorch binary        (default: build)
#   BENCH_DURATION  seconds per wrk run                               (default: 5)
#   BENCH_RUNS      runs per measurement; the median is reported      (default: 3)
#   BENCH_THREADS   opsorch HTTP threads = nginx worker processes     (default: nproc)
#   BENCH_BODY      JSON body of POST /incidents/query
#                   (default: {"query":"","statuses":["open"],"limit":10,"scope":{}})
#   BENCH_OUT       where the report is written          (default: bench/results/latest.md)
#   BENCH_STRICT    1 = exit 1 when a target is missed                (default: 0)
#   BENCH_PORT      first loopback port tried for opsorch; nginx gets the next free one (38080)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

duration=${BENCH_DURATION:-5}
runs=${BENCH_RUNS:-3}
threads=${BENCH_THREADS:-$(nproc)}
body=${BENCH_BODY:-'{"query":"","statuses":["open"],"limit":10,"scope":{}}'}
out=${BENCH_OUT:-bench/results/latest.md}
[[ -z ${BENCH_OUT:-} || $out == /* ]] || out="$caller_dir/$out"  # relative to where we were run
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}

die() {
  echo "bench: $*" >&2
  exit 1
}
log() { echo "bench: $*" >&2; }

bench_port=${BENCH_PORT:-38080}
for v in duration runs threads bench_port; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
for tool in wrk nginx curl awk timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (run: make deps)"
done

bin="$build_dir/opsorch"
if [[ ! -x $bin ]]; then
  log "$bin not found; running make build"
  make build BUILD="$build_dir" >&2
fi
[[ -x $bin ]] || die "$bin still missing after make build"

# --- processes and cleanup ------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/opsorch-bench.XXXXXX")
opsorch_pid=""
nginx_pid=""

stop() {  # stop PID: TERM, then KILL if it is still there after 5 s
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$opsorch_pid"
  stop "$nginx_pid"
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # first port at or above $1 that nothing on loopback accepts connections on
  local p=$1
  while port_in_use "$p"; do
    ((p++))
    ((p < $1 + 200)) || die "no free port near $1"
  done
  echo "$p"
}

wait_http() {  # wait_http URL PID NAME LOGFILE: up to 15 s for URL to answer 200
  local i
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 20 "$4" >&2 || true
      die "$3 exited during start-up"
    fi
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$4" >&2 || true
  die "$3 did not answer $1 within 15 s"
}

# A base port away from the usual 8080/18080 that other local servers tend to take.
opsorch_port=$(free_port "$bench_port")
nginx_port=$(free_port $((opsorch_port + 1)))

# opsorch with its default logging (audit lines are part of the real request path), stderr to a
# file. OPSORCH_* from the caller's environment is dropped so that runs are comparable.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^OPSORCH_' || true)
OPSORCH_ADDR="127.0.0.1:$opsorch_port" OPSORCH_INCIDENT_PROVIDER=mock \
  OPSORCH_HTTP_THREADS="$threads" "$bin" serve >"$tmp/opsorch.log" 2>&1 &
opsorch_pid=$!

# nginx: private prefix, no access log, as many workers as opsorch has threads. All temp paths
# point into the prefix so that nothing outside it is touched.
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $threads;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 100000000;
  client_body_temp_path $tmp/nginx/client_body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 '{"status":"ok"}\n'; }
  }
}
EOF
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
  >"$tmp/nginx/stdout.log" 2>&1 &
nginx_pid=$!

wait_http "http://127.0.0.1:$opsorch_port/health" "$opsorch_pid" opsorch "$tmp/opsorch.log"
wait_http "http://127.0.0.1:$nginx_port/health" "$nginx_pid" nginx "$tmp/nginx/error.log"

# Both servers must give 200 to the POST, else the numbers would measure an error path.
for port in "$opsorch_port" "$nginx_port"; do
  curl -fsS -o /dev/null --max-time 5 -H 'Content-Type: application/json' --data-binary "$body" \
    "http://127.0.0.1:$port/incidents/query" || die "POST /incidents/query on :$port failed"
done

# The body goes into Lua as a long bracket string: no escaping needed unless it contains "]==]".
[[ $body != *']==]'* ]] || die "BENCH_BODY must not contain ]==]"
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = [==[$body]==]
wrk.headers["Content-Type"] = "application/json"
EOF

# --- measuring -------------------------------------------------------------------------------

# run_wrk PORT PATH CONNS SECONDS: prints "req_per_s p50_us non2xx socket_errors".
run_wrk() {
  local port=$1 path=$2 conns=$3 secs=$4 wrk_threads=2 args=()
  ((conns >= 2)) || wrk_threads=1
  [[ $path == /health ]] || args=(-s "$tmp/post.lua")
  timeout -k 5 $((secs + 30)) wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --latency "${args[@]}" \
    "http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1 || {
    cat "$tmp/wrk.out" >&2
    die "wrk failed on :$port$path"
  }
  awk '
    function to_us(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n
      if (u == "ms") return n * 1e3
      if (u == "s") return n * 1e6
      if (u == "m") return n * 6e7
      if (u == "h") return n * 3.6e9
      return -1
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ *50% / { p50 = to_us($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p50 == "" || p50 < 0) exit 1
      printf "%s %s %d %d\n", rps, p50, bad, errs
    }' "$tmp/wrk.out" || {
    cat "$tmp/wrk.out" >&2
    die "could not parse wrk output"
  }
}

alive() {
  kill -0 "$opsorch_pid" 2>/dev/null || {
    tail -n 20 "$tmp/opsorch.log" >&2
    die "opsorch died"
  }
  kill -0 "$nginx_pid" 2>/dev/null || die "nginx died"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
# Other work on the machine shifts both servers' numbers unevenly; say so rather than hide it.
if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 2) }'; then
  log "warning: load average is $load_before on $(nproc) cores; results will be noisy"
fi
paths=(/health /incidents/query)
conns_list=(1 16)
declare -A rps p50 raw
problems=()
total=$(( ${#paths[@]} * ${#conns_list[@]} * runs * 2 * duration + ${#paths[@]} * 2 ))
log "opsorch :$opsorch_port, nginx :$nginx_port, $threads threads/workers," \
  "${duration}s x $runs runs" \
  "per cell; about ${total}s"

# Warm-up (not recorded): first-touch allocations, page faults, connection set-up.
for path in "${paths[@]}"; do
  for port in "$opsorch_port" "$nginx_port"; do run_wrk "$port" "$path" 16 1 >/dev/null; done
done

for path in "${paths[@]}"; do
  for c in "${conns_list[@]}"; do
    for ((r = 1; r <= runs; r++)); do
      # Interleaved so that a slow phase of the machine hits both servers alike.
      for server in opsorch nginx; do
        port=$opsorch_port
        [[ $server == opsorch ]] || port=$nginx_port
        read -r v_rps v_p50 v_bad v_err < <(run_wrk "$port" "$path" "$c" "$duration")
        alive
        k="$server $path $c"
        rps[$k]+="$v_rps "
        p50[$k]+="$v_p50 "
        raw[$k]+="$(printf '%.0f/%.1f' "$v_rps" "$v_p50") "
        ((v_bad == 0)) || problems+=("$server $path c$c run $r: $v_bad non-2xx responses")
        ((v_err == 0)) || problems+=("$server $path c$c run $r: $v_err socket errors")
        log "$server $path c$c run $r: $v_rps req/s, p50 ${v_p50} us"
      done
    done
  done
done

# --- report ----------------------------------------------------------------------------------

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  commit+=" (uncommitted changes)"
fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
missed=0
{
  echo "# opsorch vs nginx \`return 200\`"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/run.sh\`" \
    "(BENCH_DURATION=$duration BENCH_RUNS=$runs BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $commit, \`$bin\` built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')," \
    "mock incident provider, default logging to a file"
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $threads workers, access log off;" \
    "$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
  echo "- machine: $(nproc) cores${cpu:+ ($cpu)}; servers and wrk share it; loopback only;" \
    "load average before the run: $load_before"
  echo "- each cell: median of $runs runs of ${duration}s; POST body \`$body\`"
  echo
  echo "| path | connections | opsorch req/s | nginx req/s | ratio |" \
    "opsorch p50 µs | nginx p50 µs | Δp50 µs | target | met? |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for path in "${paths[@]}"; do
    for c in "${conns_list[@]}"; do
      o_rps=$(median <<<"${rps[opsorch $path $c]}")
      n_rps=$(median <<<"${rps[nginx $path $c]}")
      o_p50=$(median <<<"${p50[opsorch $path $c]}")
      n_p50=$(median <<<"${p50[nginx $path $c]}")
      # c16 rows: throughput ratio; c1 rows: added median latency.
      if ((c == 1)); then
        target="Δp50 ≤ 10 µs"
        check="d <= 10"
      elif [[ $path == /health ]]; then
        target="≥ 0.80× nginx"
        check="ratio >= 0.8"
      else
        target="≥ 0.50× nginx"
        check="ratio >= 0.5"
      fi
      row=$(awk -v path="$path" -v c="$c" -v or="$o_rps" -v nr="$n_rps" -v op="$o_p50" \
        -v np="$n_p50" -v target="$target" "BEGIN {
          ratio = nr > 0 ? or / nr : 0; d = op - np
          met = ($check) ? \"yes\" : \"**no**\"
          printf \"| %s | %d | %.0f | %.0f | %.2f | %.1f | %.1f | %+.1f | %s | %s |\n\",
                 path, c, or, nr, ratio, op, np, d, target, met }")
      [[ $row != *'**no**'* ]] || missed=$((missed + 1))
      echo "$row"
    done
  done
  echo
  echo "Per-run values (req/s / p50 µs), in run order:"
  echo
  for path in "${paths[@]}"; do
    for c in "${conns_list[@]}"; do
      for server in opsorch nginx; do
        echo "- $server $path c$c: ${raw[$server $path $c]% }"
      done
    done
  done
  if ((${#problems[@]})); then
    echo
    echo "Warnings (these runs measured errors, not only successes):"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
  echo
  echo "opsorch log written during the run: $(wc -l <"$tmp/opsorch.log") lines," \
    "$(du -h "$tmp/opsorch.log" | cut -f1)."
} >"$tmp/report.md"

mkdir -p "$(dirname "$out")"
cp "$tmp/report.md" "$out"
cat "$tmp/report.md"
log "written to $out; $missed target(s) missed"
if ((missed > 0 && strict == 1)); then exit 1; fi
exit 0
