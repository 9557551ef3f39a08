#!/usr/bin/env bash
# Measures the workflow runtime (method and targets: docs/BENCHMARKS.md, "Workflow runtime"):
#   1. steps per second: one step = a Lua URL processor, a keep-alive GET to nginx, a Lua results
#      processor that decodes the JSON answer and emits a metric (build/opsorch-workflow-bench),
#      at 1 and 2 threads, beside nginx's own rate for the same GET (wrk, c1) in the same run;
#      and at 2 threads with the runtime's own metrics and audit records off, alternating with
#      on, for what reporting costs;
#   2. RSS of `opsorch agent` with 20 deployed workflows (timer steps that run at start, then
#      hourly), the agent and its script workers: 3 s after start and once idle (35 s);
#   3. time from exec of `opsorch agent` to the first step's HTTP call (a run-once step whose
#      GET nginx logs with $msec).
# Prints the figures as Markdown.
#
# Usage: bench/workflow.sh        (or: make bench-workflow)
#
# Environment (all optional):
#   BUILD           build directory                                  (default: build)
#   BENCH_DURATION  seconds per steps/s run                          (default: 5)
#   BENCH_RUNS      runs per measurement; the median is reported     (default: 3)
#   BENCH_OUT       report file                 (default: bench/results/workflow-latest.md)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-5}
runs=${BENCH_RUNS:-3}
resolve_out bench/results/workflow-latest.md
build_dir=${BUILD:-build}
base_port=28380

require_positive duration runs
require_tools wrk nginx curl awk timeout
bin="$build_dir/opsorch"
bench_bin="$build_dir/opsorch-workflow-bench"
require_binaries "$build_dir" "$bin" "$bench_bin" "$build_dir/opsorch-script-worker"

bench_setup
drop_opsorch_env
bench_start

nginx_port=$(free_port "$base_port")
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  log_format first '\$msec \$request_uri';
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
    location = /data.json { return 200 '{"value":42,"host":"nginx"}'; }
    location = /first-step { access_log $tmp/nginx/first.log first; return 200 '{}'; }
    location / { return 200 '{"status":"ok"}'; }
  }
}
EOF
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
  >"$tmp/nginx/stdout.log" 2>&1 &
nginx_pid=$!
bench_track "$nginx_pid"
wait_http "http://127.0.0.1:$nginx_port/data.json" "$nginx_pid" nginx "$tmp/nginx/error.log"

# --- 1. steps per second ---------------------------------------------------------------------

steps() {  # steps THREADS [REPORT]: prints "steps_per_s p50_us"
  local line
  line=$("$bench_bin" "http://127.0.0.1:$nginx_port" "$1" "$duration" "${2:-1}") ||
    die "workflow bench failed"
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
       END { print v["steps_per_s"], v["p50_us"] }' <<<"$line"
}

declare -A rate p50
for t in 1 2; do
  r=() p=()
  for ((i = 0; i < runs; i++)); do
    read -r a b < <(steps "$t")
    r+=("$a") p+=("$b")
    log "steps t$t run $((i + 1)): $a steps/s, p50 $b µs"
  done
  rate[$t]=$(median <<<"${r[*]}")
  p50[$t]=$(median <<<"${p[*]}")
done
# Reporting's cost: off and on alternate, so that drift of the machine hits both alike.
off_r=() on_r=()
for ((i = 0; i < runs; i++)); do
  read -r a _ < <(steps 2 0)
  off_r+=("$a")
  read -r b _ < <(steps 2 1)
  on_r+=("$b")
  log "reporting off/on run $((i + 1)): $a / $b steps/s"
done
report_off=$(median <<<"${off_r[*]}")
report_on=$(median <<<"${on_r[*]}")
report_cost=$(awk -v off="$report_off" -v on="$report_on" 'BEGIN { printf "%.1f", (1 - on / off) * 100 }')
nginx_r=()
for ((i = 0; i < runs; i++)); do
  read -r rps _ _ _ < <(run_wrk "$nginx_port" /health 1 "$duration")
  nginx_r+=("$rps")
done
nginx_rate=$(median <<<"${nginx_r[*]}")

# --- 2. idle RSS with 20 workflows -----------------------------------------------------------

# 20 deployments, each a workflow whose timer step runs once right after start (a GET to nginx
# and a metric) and then every hour: measured 3 s after start (all ran, workers still alive)
# and again once the workers' idle timeout (30 s) has passed: the idle figure.
mkdir -p "$tmp/idle"
{
  echo '{"deployments": ['
  for ((d = 1; d <= 20; d++)); do
    ((d == 1)) || echo ','
    cat <<EOF
  {"id": "wf$d", "config": {"file": "wf.json"}, "persistence_dir": "state/wf$d",
   "hosts": {"svc": {"url": "http://127.0.0.1:$nginx_port", "allow_private": true,
                     "allow": [{"method": "GET", "path": "/data.json"}]}}}
EOF
  done
  echo ']}'
} >"$tmp/idle/boot.json"
cat >"$tmp/idle/wf.json" <<'EOF'
{"workflows": [{"name": "idle", "steps": [{"id": "s",
  "trigger": {"timer": {"delay": "0s", "period": "1h"}},
  "url": "ctx.set_url('svc', '/data.json')",
  "results": "ctx.metric('v', ctx.json.decode(ctx.body()).value)"}]}]}
EOF
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
pss_kb() { awk '/^Pss:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# memory PID: sets agent_rss agent_pss workers workers_rss workers_pss (KiB)
memory() {
  agent_rss=$(rss_kb "$1") agent_pss=$(pss_kb "$1") workers=0 workers_rss=0 workers_pss=0
  local child
  for child in $(pgrep -P "$1" || true); do
    workers=$((workers + 1))
    workers_rss=$((workers_rss + $(rss_kb "$child")))
    workers_pss=$((workers_pss + $(pss_kb "$child")))
  done
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
OPSORCH_DATA_DIR="$tmp/idle/data" "$bin" agent --bootstrap "$tmp/idle/boot.json" \
  >"$tmp/idle/agent.log" 2>&1 &
agent_pid=$!
bench_track "$agent_pid"
sleep 3
check_alive "$agent_pid" "opsorch agent" "$tmp/idle/agent.log"
memory "$agent_pid"
busy="$(mb $((agent_rss + workers_rss))) MB (agent $(mb "$agent_rss"), $workers workers $(mb "$workers_rss"); PSS $(mb $((agent_pss + workers_pss))))"
log "after the first runs: $busy"
sleep 35
check_alive "$agent_pid" "opsorch agent" "$tmp/idle/agent.log"
memory "$agent_pid"
idle_total_kb=$((agent_rss + workers_rss))
idle="$(mb "$idle_total_kb") MB (agent $(mb "$agent_rss"), $workers workers $(mb "$workers_rss"); PSS $(mb $((agent_pss + workers_pss))))"
log "idle: $idle"
if grep -q 'failed' "$tmp/idle/agent.log"; then
  die "a workflow failed: $(grep failed "$tmp/idle/agent.log" | head -3)"
fi
stop "$agent_pid"

# --- 3. start to first step ------------------------------------------------------------------

mkdir -p "$tmp/first"
cat >"$tmp/first/boot.json" <<EOF
{"deployments": [{"id": "first", "config": {"file": "wf.json"}, "persistence_dir": "state",
  "hosts": {"svc": {"url": "http://127.0.0.1:$nginx_port", "allow_private": true}}}]}
EOF
cat >"$tmp/first/wf.json" <<'EOF'
{"workflows": [{"name": "first", "steps": [{"id": "s", "trigger": {"once": true},
  "url": "ctx.set_url('svc', '/first-step')"}]}]}
EOF
first=()
for ((i = 0; i < runs; i++)); do
  : >"$tmp/nginx/first.log"
  t0=$(date +%s.%N)
  OPSORCH_DATA_DIR="$tmp/first/data" "$bin" agent --bootstrap "$tmp/first/boot.json" \
    >"$tmp/first/agent.log" 2>&1 &
  pid=$!
  for ((w = 0; w < 100; w++)); do
    [[ -s $tmp/nginx/first.log ]] && break
    sleep 0.05
  done
  stop "$pid"
  [[ -s $tmp/nginx/first.log ]] || die "the first step never called nginx"
  first+=("$(awk -v t0="$t0" 'NR == 1 { printf "%.1f", ($1 - t0) * 1000 }' "$tmp/nginx/first.log")")
  log "start to first step run $((i + 1)): ${first[-1]} ms"
done
first_ms=$(median <<<"${first[*]}")

# --- report ----------------------------------------------------------------------------------

verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
  ok = (op == ">=") ? (a >= b) : (a <= b); print ok ? "met" : "not met" }'; }
idle_mb=$(mb "$idle_total_kb")
{
  echo "### Workflow runtime — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(tree_commit)"
  echo
  echo "Machine: $(nproc) cores; load before: $load_before. Median of $runs runs of ${duration} s."
  echo
  echo "| measure | figure | target | |"
  echo "|---|---|---|---|"
  echo "| steps/s, 1 thread (URL + results processors, GET, metric) | ${rate[1]} (p50 ${p50[1]} µs) | | |"
  echo "| steps/s, 2 threads | ${rate[2]} (p50 ${p50[2]} µs) | ≥ 5,000 | $(verdict "${rate[2]}" ">=" 5000) |"
  echo "| steps/s, 2 threads, reporting off / on (alternating) | $report_off / $report_on: costs ${report_cost}% | ≤ 5% | $(verdict "$report_cost" "<=" 5) |"
  echo "| nginx alone, same GET, wrk c1 | $nginx_rate req/s | (context) | |"
  echo "| RSS with 20 workflows, 3 s after start (each ran once) | $busy | | |"
  echo "| idle RSS with 20 workflows (35 s later), agent + workers | $idle | ≤ 20 MB | $(verdict "$idle_mb" "<=" 20) |"
  echo "| exec of \`opsorch agent\` → first step's HTTP call | $first_ms ms | | |"
} | tee "$out"
