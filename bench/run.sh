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
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-5}
runs=${BENCH_RUNS:-3}
threads=${BENCH_THREADS:-$(nproc)}
body=${BENCH_BODY:-$bench_default_body}
resolve_out bench/results/latest.md
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}

bench_port=${BENCH_PORT:-38080}
require_positive duration runs threads bench_port
require_tools wrk nginx curl awk timeout

bin="$build_dir/opsorch"
require_binaries "$build_dir" "$bin"

# --- processes -------------------------------------------------------------------------------

bench_setup

# A base port away from the usual 8080/18080 that other local servers tend to take.
opsorch_port=$(free_port "$bench_port")
nginx_port=$(free_port $((opsorch_port + 1)))

# opsorch with its default logging (audit lines are part of the real request path), stderr to a
# file. OPSORCH_* from the caller's environment is dropped so that runs are comparable.
drop_opsorch_env
OPSORCH_ADDR="127.0.0.1:$opsorch_port" OPSORCH_INCIDENT_PROVIDER=mock \
  OPSORCH_HTTP_THREADS="$threads" "$bin" serve >"$tmp/opsorch.log" 2>&1 &
opsorch_pid=$!
bench_track "$opsorch_pid"

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
bench_track "$nginx_pid"

wait_http "http://127.0.0.1:$opsorch_port/health" "$opsorch_pid" opsorch "$tmp/opsorch.log"
wait_http "http://127.0.0.1:$nginx_port/health" "$nginx_pid" nginx "$tmp/nginx/error.log"

# Both servers must give 200 to the POST, else the numbers would measure an error path.
for port in "$opsorch_port" "$nginx_port"; do
  curl -fsS -o /dev/null --max-time 5 -H 'Content-Type: application/json' --data-binary "$body" \
    "http://127.0.0.1:$port/incidents/query" || die "POST /incidents/query on :$port failed"
done

write_post_lua "$body"

# --- measuring -------------------------------------------------------------------------------

alive() {
  check_alive "$opsorch_pid" opsorch "$tmp/opsorch.log"
  check_alive "$nginx_pid" nginx
}

bench_start
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
        record_run "$server $path $c" "$server $path c$c run $r" \
          "$v_rps" "$v_p50" "$v_bad" "$v_err"
      done
    done
  done
done

# --- report ----------------------------------------------------------------------------------

missed=0
{
  echo "# opsorch vs nginx \`return 200\`"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/run.sh\`" \
    "(BENCH_DURATION=$duration BENCH_RUNS=$runs BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "mock incident provider, default logging to a file"
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $threads workers, access log off;" \
    "$(wrk_version)"
  echo "- machine: $(machine_fact)"
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
  echo "opsorch log written during the run: $(log_fact "$tmp/opsorch.log")."
} >"$tmp/report.md"

publish_report "$missed"
