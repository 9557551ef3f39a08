#!/usr/bin/env bash
# Measures opsorch's Alertmanager API v2 (method as in docs/BENCHMARKS.md: same run, alternating,
# medians, ratios):
#   1. push: Prometheus-shaped batches of BENCH_BATCH alerts on POST <base>/api/v2/alerts over
#      BENCH_CONNECTIONS keep-alive connections, cycling over BENCH_DISTINCT label sets (so most
#      pushes refresh firing alerts, as a Prometheus resending does), against Alertmanager 0.25
#      (base = its root) and opsorch (base = /integrations/alertmanager/KEY of an integration of
#      kind alertmanager created through the admin API) in the same run, alternating, a fresh
#      server per run: alerts/s of both and the ratio opsorch ÷ Alertmanager;
#   2. silences: opsorch's durable ingest of PagerDuty Events v2 batches (BENCH_PD_BATCH events
#      per POST /v2/enqueue/batch) on a service with 0 and with BENCH_SILENCES active silences
#      (created through POST <base>/api/v2/silences, none matching), alternating: events/s of
#      both and the ratio.
# Load: build/opsorch-alert-push-bench (cpp-httplib, closed loop). Prints the figures as
# Markdown and writes them to BENCH_OUT. Exits 1 when a server could not be measured (e.g.
# opsorch without the routes: its figures are then "n/a" and the reason is in the report).
#
# Usage: bench/alertmanager.sh        (or: make bench-alertmanager)
#
# Environment (all optional):
#   BUILD              build directory                                      (default: build)
#   BENCH_MODE         all, push or silences                                (default: all)
#   BENCH_DURATION     measured seconds per run                             (default: 10)
#   BENCH_WARMUP       unrecorded seconds of load before each run           (default: 2)
#   BENCH_RUNS         runs per server (push) / per silence count; medians  (default: 3)
#   BENCH_CONNECTIONS  keep-alive connections of the load                   (default: 4)
#   BENCH_BATCH        alerts per push (Prometheus' maximum batch)          (default: 64)
#   BENCH_DISTINCT     distinct alerts (push) / dedup keys (silences)       (default: 10000)
#   BENCH_PD_BATCH     events per POST /v2/enqueue/batch                    (default: 500)
#   BENCH_SILENCES     active silences of the second measurement            (default: 1000)
#   BENCH_THREADS      OPSORCH_HTTP_THREADS                                 (default: nproc)
#   BENCH_OUT          report file   (default: bench/results/alertmanager-<UTC date>.txt)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

mode=${BENCH_MODE:-all}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
runs=${BENCH_RUNS:-3}
conns=${BENCH_CONNECTIONS:-4}
batch=${BENCH_BATCH:-64}
distinct=${BENCH_DISTINCT:-10000}
pd_batch=${BENCH_PD_BATCH:-500}
silences=${BENCH_SILENCES:-1000}
threads=${BENCH_THREADS:-$(nproc)}
resolve_out "bench/results/alertmanager-$(date -u +%Y-%m-%d).txt"
build_dir=${BUILD:-build}
# First port tried: away from run.sh (38080), plugins.sh (28180), engine.sh (28280),
# workflow.sh (28380) and paging.sh (28480).
base_port=28580

[[ $mode == all || $mode == push || $mode == silences ]] || die "BENCH_MODE: all, push or silences"
require_positive duration runs conns batch distinct pd_batch silences threads
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"
require_tools curl awk timeout
alertmanager=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[[ -n $alertmanager ]] || die "prometheus-alertmanager not found (run: make deps)"
bin="$build_dir/opsorch"
tool="$build_dir/opsorch-alert-push-bench"
require_binaries "$build_dir" "$bin" "$tool"

bench_setup
drop_opsorch_env

# Everything goes to a receiver without notifiers: the push path alone is measured.
cat >"$tmp/alertmanager.yml" <<'EOF'
route:
  receiver: blackhole
receivers:
  - name: blackhole
EOF

store_fs=$(findmnt -no FSTYPE,SOURCE -T "$tmp" 2>/dev/null | awk '{ print $1 " on " $2 }' || true)
[[ -n $store_fs ]] || store_fs=$(stat -f -c %T "$tmp")
problems=()
if [[ $store_fs == tmpfs* || $store_fs == ramfs* ]]; then
  log "warning: $tmp is on $store_fs; fsync costs nothing there (set TMPDIR to a disk)"
  problems+=("the stores were on $store_fs, not a disk: the durable figures are not meaningful")
fi

# --- servers ---------------------------------------------------------------------------------

untrack() {  # untrack PID: after stop, so that cleanup never signals a reused PID
  local p keep=()
  for p in "${bench_pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  bench_pids=("${keep[@]}")
}

next_port=$base_port
# launch NAME LOGFILE ARGV...: runs ARGV in the background with "@PORT@" in its words replaced
# by a free loopback port; sets srv_port and srv_pid once the port accepts connections. A port
# taken between the check and the bind is skipped (as in bench/engine.sh).
launch() {
  local name=$1 logfile=$2 attempt i a argv
  shift 2
  for ((attempt = 1; ; attempt++)); do
    ((next_port < base_port + 150)) || next_port=$base_port
    srv_port=$(free_port "$next_port")
    next_port=$((srv_port + 1))
    argv=()
    for a; do argv+=("${a//@PORT@/$srv_port}"); done
    "${argv[@]}" >"$logfile" 2>&1 &
    srv_pid=$!
    bench_track "$srv_pid"
    for ((i = 0; i < 150; i++)); do
      port_in_use "$srv_port" && break
      kill -0 "$srv_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "$srv_pid" 2>/dev/null && ((attempt < 5)) &&
      grep -qi 'address already in use' "$logfile"; then
      log "$name: port $srv_port was taken before it could bind it; trying another"
      stop "$srv_pid"
      untrack "$srv_pid"
      continue
    fi
    return 0
  done
}

# call METHOD URL [BODY]: the answer's body in $tmp/call.out; prints the status (000: none).
call() {
  local args=(-sS -o "$tmp/call.out" -w '%{http_code}' --max-time 10 -X "$1")
  [[ $# -lt 3 ]] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$2" 2>"$tmp/call.err" || true  # -w prints 000 when there is no answer
}

answer() { head -c 300 "$tmp/call.out" 2>/dev/null | tr '\n' ' '; cat "$tmp/call.err" 2>/dev/null; }

# wait_ready URL PID NAME LOG: up to 15 s for URL to answer 200 (a 404 that never turns into a
# 200 ends the wait early: the route is not there). Returns 1 with $why set when it does not.
wait_ready() {
  local i code
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$2" 2>/dev/null; then
      why="$3 exited during start-up: $(tail -n 5 "$4" | tr '\n' ' ')"
      return 1
    fi
    code=$(call GET "$1")
    [[ $code == 200 ]] && return 0
    if [[ $code == 404 ]] && ((i >= 20)); then
      why="$3: GET $1 answers 404 ($(answer))"
      return 1
    fi
    sleep 0.1
  done
  why="$3: GET $1 did not answer 200 within 15 s (last: $code $(answer))"
  return 1
}

# An alert for the sanity push, as Prometheus would send it.
sanity_alert() {
  local now ends
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  ends=$(date -u -d '+4 min' +%Y-%m-%dT%H:%M:%S.000Z)
  printf '[{"annotations":{"summary":"bench sanity"},"endsAt":"%s","startsAt":"%s","generatorURL":"http://prometheus.bench:9090/graph?g0.expr=vector%%281%%29\\u0026g0.tab=1","labels":{"alertname":"BenchSanity","job":"bench"}}]' \
    "$ends" "$now"
}

# sanity BASE NAME: one alert pushed (200) and then listed by GET BASE/api/v2/alerts.
sanity() {
  local code
  code=$(call POST "$1/api/v2/alerts" "$(sanity_alert)")
  [[ $code == 200 ]] || {
    why="$2: POST $1/api/v2/alerts answered $code, not 200: $(answer)"
    return 1
  }
  code=$(call GET "$1/api/v2/alerts")
  if [[ $code != 200 ]] || ! grep -q '"alertname":"BenchSanity"' "$tmp/call.out"; then
    why="$2: GET $1/api/v2/alerts ($code) does not list the pushed alert: $(answer)"
    return 1
  fi
}

# start_alertmanager DIR: sets base, srv_pid, logfile; returns 1 with $why when it fails.
start_alertmanager() {
  mkdir -p "$1"
  logfile="$1/alertmanager.log"
  launch alertmanager "$logfile" "$alertmanager" --config.file="$tmp/alertmanager.yml" \
    --storage.path="$1/data" --cluster.listen-address= --web.listen-address="127.0.0.1:@PORT@"
  base="http://127.0.0.1:$srv_port"
  wait_ready "$base/-/ready" "$srv_pid" alertmanager "$logfile" || return 1
  sanity "$base" alertmanager
}

# start_opsorch DIR: a fresh SQLite store, a service "bench" with an alertmanager integration
# (am_key) and an events_v2 one (pd_key) made through the admin API; sets base (the Alertmanager
# API base), root_url, srv_pid, logfile; returns 1 with $why set when something fails.
start_opsorch() {
  local code
  mkdir -p "$1"
  logfile="$1/opsorch.log"
  launch opsorch "$logfile" env ${BENCH_PRELOAD:+LD_PRELOAD=$BENCH_PRELOAD} OPSORCH_ADDR="127.0.0.1:@PORT@" OPSORCH_INCIDENT_PROVIDER=local \
    OPSORCH_DATA_DIR="$1/data" OPSORCH_HTTP_THREADS="$threads" "$bin" serve
  root_url="http://127.0.0.1:$srv_port"
  wait_ready "$root_url/health" "$srv_pid" opsorch "$logfile" || return 1
  code=$(call PUT "$root_url/admin/services/bench" '{"name":"Bench service"}')
  [[ $code == 200 || $code == 201 ]] || {
    why="opsorch: PUT /admin/services/bench answered $code: $(answer)"
    return 1
  }
  code=$(call POST "$root_url/admin/services/bench/integrations" \
    '{"name":"Alertmanager API","kind":"alertmanager"}')
  am_key=$(sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$tmp/call.out")
  [[ $code == 201 && -n $am_key ]] || {
    why="opsorch: creating the alertmanager integration answered $code: $(answer)"
    return 1
  }
  code=$(call POST "$root_url/admin/services/bench/integrations" \
    '{"name":"Events API v2","kind":"events_v2"}')
  pd_key=$(sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$tmp/call.out")
  [[ $code == 201 && -n $pd_key ]] || {
    why="opsorch: creating the events_v2 integration answered $code: $(answer)"
    return 1
  }
  base="$root_url/integrations/alertmanager/$am_key"
  wait_ready "$base/-/ready" "$srv_pid" opsorch "$logfile" || return 1
  sanity "$base" opsorch
}

stop_server() {  # after a run: TERM (KILL after 5 s), forgotten by the cleanup
  stop "$srv_pid"
  untrack "$srv_pid"
}

field() {  # field FILE LINE-PREFIX KEY: the value of KEY=… on the first line starting with PREFIX
  awk -v p="$2" -v k="$3" 'index($0, p) == 1 {
    for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
  }' "$1"
}

listed_alerts() {  # listed_alerts BASE: how many alerts GET BASE/api/v2/alerts lists
  [[ $(call GET "$1/api/v2/alerts") == 200 ]] || {
    echo "?"
    return
  }
  grep -o '"fingerprint":' "$tmp/call.out" | wc -l
}

# run_tool OUT ARGS...: the load tool under a hard timeout; 1 when it failed. In the background
# with `wait`, so that Ctrl-C or TERM runs the cleanup at once (it stops the tool too).
run_tool() {
  local out=$1 pid rc=0
  shift
  timeout -k 5 $((warmup + duration + 60)) "$tool" "$@" >"$out" 2>&1 &
  pid=$!
  bench_track "$pid"
  wait "$pid" || rc=$?
  untrack "$pid"
  return "$rc"
}

# record KEY LABEL OUT: the figures of one run into vals/raw; its errors into problems.
declare -A vals raw failed listed
record() {
  local k=$1 label=$2 out=$3 v
  for v in alerts_per_s batches_per_s p50_ms p99_ms; do
    vals[$k $v]+="$(field "$out" "alert-push-bench mode" "$v") "
  done
  raw[$k]+="$(printf '%.0f/%s/%s' "$(field "$out" "alert-push-bench mode" alerts_per_s)" \
    "$(field "$out" "alert-push-bench mode" p50_ms)" \
    "$(field "$out" "alert-push-bench mode" p99_ms)") "
  for v in non2xx failed item_errors; do
    local n
    n=$(field "$out" "alert-push-bench mode" "$v")
    ((${n:-0} == 0)) || problems+=("$label: $v=$n")
  done
  if grep -q '^alert-push-bench first_error' "$out"; then
    problems+=("$label: first error: $(sed -n 's/^alert-push-bench first_error //p' "$out" | cut -c 1-300)")
  fi
  log "$label: $(field "$out" "alert-push-bench mode" alerts_per_s) alerts/s," \
    "p50 $(field "$out" "alert-push-bench mode" p50_ms) ms," \
    "p99 $(field "$out" "alert-push-bench mode" p99_ms) ms"
}

med() {  # med KEY: the median of the runs recorded under KEY, "" when there were none
  local v=${vals[$1]:-}
  [[ -z ${v// /} ]] || median <<<"$v"
}

bench_start
cell=0

# --- 1. push ---------------------------------------------------------------------------------

if [[ $mode == all || $mode == push ]]; then
  log "push: $runs runs x 2 servers x (${warmup}s warm-up + ${duration}s), $conns connections," \
    "batches of $batch, $distinct distinct alerts"
  for ((r = 1; r <= runs; r++)); do
    # Alternating, so that a slow phase of the machine hits both servers.
    for server in opsorch alertmanager; do
      [[ -z ${failed[$server]:-} ]] || continue
      cell=$((cell + 1))
      dir="$tmp/push$cell"
      why=""
      if [[ $server == opsorch ]]; then
        start_opsorch "$dir" && started_ok=1 || started_ok=0
      else
        start_alertmanager "$dir" && started_ok=1 || started_ok=0
      fi
      if ((!started_ok)); then
        log "$why"
        failed[$server]=$why
        problems+=("$server could not be measured: $why")
        stop_server
        continue
      fi
      if ! run_tool "$dir/tool.out" --base "$base" --connections "$conns" --seconds "$duration" \
        --warmup "$warmup" --batch "$batch" --distinct "$distinct"; then
        why="$server: the load failed: $(tr '\n' ' ' <"$dir/tool.out" | cut -c 1-400)"
        log "$why"
        failed[$server]=$why
        problems+=("$server could not be measured: $why")
        stop_server
        continue
      fi
      check_alive "$srv_pid" "$server" "$logfile"
      record "$server" "$server push run $r" "$dir/tool.out"
      listed[$server]+="$(listed_alerts "$base") "
      stop_server
    done
  done
fi

# --- 2. PagerDuty ingest with and without silences (opsorch) ---------------------------------

if [[ $mode == all || $mode == silences ]]; then
  log "silences: $runs runs x {0, $silences} silences x (${warmup}s + ${duration}s)," \
    "batches of $pd_batch events on $conns connections"
  for ((r = 1; r <= runs; r++)); do
    for n in 0 "$silences"; do
      [[ -z ${failed[silences]:-} ]] || continue
      cell=$((cell + 1))
      dir="$tmp/silences$cell"
      why=""
      if ! start_opsorch "$dir"; then
        log "$why"
        failed[silences]=$why
        problems+=("the silences measurement could not run: $why")
        stop_server
        continue
      fi
      if ((n > 0)); then
        if ! run_tool "$dir/silences.out" --base "$base" --create-silences "$n" \
          --connections "$conns"; then
          why="opsorch: creating $n silences failed: $(tr '\n' ' ' <"$dir/silences.out" | cut -c 1-400)"
          log "$why"
          failed[silences]=$why
          problems+=("the silences measurement could not run: $why")
          stop_server
          continue
        fi
        code=$(call GET "$base/api/v2/silences")
        active=$(grep -o '"state":"active"' "$tmp/call.out" | wc -l)
        ((active == n)) ||
          problems+=("silences run $r: GET /api/v2/silences ($code) lists $active active, not $n")
      fi
      if ! run_tool "$dir/tool.out" --base "$root_url" --events-v2 "$pd_key" \
        --connections "$conns" --seconds "$duration" --warmup "$warmup" --batch "$pd_batch" \
        --distinct "$distinct"; then
        why="opsorch: the PagerDuty load failed: $(tr '\n' ' ' <"$dir/tool.out" | cut -c 1-400)"
        log "$why"
        failed[silences]=$why
        problems+=("the silences measurement could not run: $why")
        stop_server
        continue
      fi
      check_alive "$srv_pid" opsorch "$logfile"
      record "sil$n" "$n silences run $r" "$dir/tool.out"
      stop_server
    done
  done
fi

# --- report ----------------------------------------------------------------------------------

trim() { echo "${1% }"; }
fmt() { [[ -n $1 ]] && printf "%.${2:-0}f" "$1" || echo "n/a"; }
{
  echo "# opsorch Alertmanager API v2"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/alertmanager.sh\` (BENCH_MODE=$mode BENCH_DURATION=$duration" \
    "BENCH_WARMUP=$warmup BENCH_RUNS=$runs BENCH_CONNECTIONS=$conns BENCH_BATCH=$batch" \
    "BENCH_DISTINCT=$distinct BENCH_PD_BATCH=$pd_batch BENCH_SILENCES=$silences" \
    "BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "\`OPSORCH_INCIDENT_PROVIDER=local\`, $threads HTTP threads, SQLite store on $store_fs," \
    "a fresh store per run; service and integrations made through the admin API"
  echo "- $("$alertmanager" --version 2>&1 | head -n 1 | sed 's/ (.*//'):" \
    "\`--cluster.listen-address=\` (no cluster), fresh \`--storage.path\` per run, one route to" \
    "a receiver without notifiers; it keeps alerts in memory"
  echo "- load: \`$tool\` (cpp-httplib, keep-alive, TCP_NODELAY, closed loop: each connection" \
    "sends its next request when the previous one is answered); ${warmup} s unrecorded," \
    "then $duration s measured; medians of $runs runs"
  echo "- machine: $(machine_fact | sed 's/and wrk share/and the load tool share/')"
  if [[ $mode == all || $mode == push ]]; then
    echo
    echo "## Push: POST /api/v2/alerts, $batch Prometheus-shaped alerts per batch, $conns connections"
    echo
    echo "$distinct distinct alerts (10 alertnames × instances), cycled: after the first" \
      "$(((distinct + batch - 1) / batch)) batches every alert is a refresh of a firing one" \
      "(endsAt = now + 4 min, as Prometheus sets it)."
    echo
    echo "| server | alerts/s | batches/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    for server in opsorch alertmanager; do
      name=$([[ $server == opsorch ]] && echo opsorch || echo Alertmanager)
      if [[ -n ${failed[$server]:-} || -z ${vals[$server alerts_per_s]:-} ]]; then
        echo "| $name | n/a | n/a | n/a | n/a |"
      else
        echo "| $name | $(fmt "$(med "$server alerts_per_s")") |" \
          "$(fmt "$(med "$server batches_per_s")" 1) | $(fmt "$(med "$server p50_ms")" 2) |" \
          "$(fmt "$(med "$server p99_ms")" 2) |"
      fi
    done
    o=$(med "opsorch alerts_per_s")
    a=$(med "alertmanager alerts_per_s")
    if [[ -n $o && -n $a && -z ${failed[opsorch]:-} && -z ${failed[alertmanager]:-} ]]; then
      echo "| ratio opsorch ÷ Alertmanager | $(awk -v o="$o" -v a="$a" 'BEGIN { printf "%.2f×", o / a }') | | | |"
    else
      echo "| ratio opsorch ÷ Alertmanager | n/a | | | |"
    fi
    echo
    echo "Per run, alerts/s / p50 ms / p99 ms: opsorch $(trim "${raw[opsorch]:-n/a}"); Alertmanager" \
      "$(trim "${raw[alertmanager]:-n/a}"). Alerts listed by GET /api/v2/alerts after each run:" \
      "opsorch $(trim "${listed[opsorch]:-n/a}"); Alertmanager $(trim "${listed[alertmanager]:-n/a}")" \
      "(the sanity alert included)."
  fi
  if [[ $mode == all || $mode == silences ]]; then
    echo
    echo "## opsorch: PagerDuty batches ($pd_batch events per POST /v2/enqueue/batch) with silences"
    echo
    echo "One service with an alertmanager and an events_v2 integration; the silences" \
      "(\`alertname=\"X-<i>\"\`, 24 h, none matching) are created through" \
      "POST /integrations/alertmanager/KEY/api/v2/silences before the load; the events' dedup" \
      "keys cycle over $distinct, their custom_details carry alertname/instance/job labels."
    echo
    echo "| active silences | events/s | batches/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    for n in 0 "$silences"; do
      if [[ -n ${failed[silences]:-} || -z ${vals[sil$n alerts_per_s]:-} ]]; then
        echo "| $n | n/a | n/a | n/a | n/a |"
      else
        echo "| $n | $(fmt "$(med "sil$n alerts_per_s")") | $(fmt "$(med "sil$n batches_per_s")" 1) |" \
          "$(fmt "$(med "sil$n p50_ms")" 2) | $(fmt "$(med "sil$n p99_ms")" 2) |"
      fi
    done
    z=$(med "sil0 alerts_per_s")
    s=$(med "sil$silences alerts_per_s")
    if [[ -n $z && -n $s && -z ${failed[silences]:-} ]]; then
      echo "| ratio $silences ÷ 0 | $(awk -v z="$z" -v s="$s" 'BEGIN { printf "%.2f×", s / z }') | | | |"
    else
      echo "| ratio $silences ÷ 0 | n/a | | | |"
    fi
    echo
    echo "Per run, events/s / p50 ms / p99 ms: 0 silences $(trim "${raw[sil0]:-n/a}");" \
      "$silences silences $(trim "${raw[sil$silences]:-n/a}")."
  fi
  if ((${#problems[@]})); then
    echo
    echo "Warnings:"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

mkdir -p "$(dirname "$out")"
cp "$tmp/report.md" "$out"
cat "$tmp/report.md"
log "written to $out"
set +u  # an empty associative array is "unbound" to bash's -u
if ((${#failed[@]})); then
  log "not measured: ${!failed[*]}"
  exit 1
fi
exit 0
