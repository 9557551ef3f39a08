#!/usr/bin/env bash
# Measures the runbook runner, the `local` orchestration provider (method and targets:
# docs/BENCHMARKS.md, "Runbooks"). A runbook of five steps — `a` invoke → `b` and `c` invoke in
# parallel → `approve` manual → `d` invoke — whose automated steps call one workflow step that
# POSTs the run and step id to a loopback HTTP server (build/opsorch-runbook-bench serve), which
# records when each request arrives:
#   1. automated steps per second: BENCH_RUNBOOK_RUNS runs started at once over
#      BENCH_CONNECTIONS connections, from the first start sent to the last of a/b/c finished
#      (and with d: the whole runbook, approvals included);
#   2. completion → next step: every run's `approve` completed (POST …/steps/approve/complete)
#      over 8 and over 1 connection; the time from sending the completion to the loopback
#      server receiving step d's request, p50/p95/p99 (target p99 ≤ 20 ms);
#   3. the peer, in the same run: the same workflow step against the same server through
#      workflow::Runtime::RunStep (started as `opsorch serve` starts it), without runbooks, from
#      OPSORCH_RUNBOOK_THREADS threads for BENCH_DURATION s, and from 1 thread.
# Every batch of runs gets a fresh opsorch (SQLite store on the disk under $TMPDIR) and a warm-up
# of 16 runs of another plan. Prints the figures as Markdown; every line the tool printed goes to
# the report's name with .raw.txt instead of .md.
#
# Usage: bench/runbooks.sh        (or: make bench-runbooks)
#
# Environment (all optional):
#   BUILD                  build directory                                      (default: build)
#   BENCH_RUNS             rounds (peer, batch c8, batch c1, peer t1); medians  (default: 3)
#   BENCH_RUNBOOK_RUNS     runs per batch, at most 1000                         (default: 1000)
#   BENCH_CONNECTIONS      connections starting the runs                        (default: 32)
#   BENCH_RUNBOOK_THREADS  OPSORCH_RUNBOOK_THREADS = the peer's threads         (default: 8)
#   BENCH_DURATION         seconds per peer run                                 (default: 5)
#   BENCH_THREADS          OPSORCH_HTTP_THREADS                                 (default: nproc)
#   BENCH_OUT              report file          (default: bench/results/runbooks-latest.md)
#   BENCH_STRICT           1 = exit 1 when a target is missed                   (default: 0)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

runs=${BENCH_RUNS:-3}
batch=${BENCH_RUNBOOK_RUNS:-1000}
conns=${BENCH_CONNECTIONS:-32}
rb_threads=${BENCH_RUNBOOK_THREADS:-8}
duration=${BENCH_DURATION:-5}
threads=${BENCH_THREADS:-$(nproc)}
resolve_out bench/results/runbooks-latest.md
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}
# First port tried: away from run.sh (38080), plugins.sh (28180), engine.sh (28280),
# workflow.sh (28380), paging.sh and search.sh (28480) and alertmanager.sh (28580).
base_port=28680
target_p99_ms=20

require_positive runs batch conns rb_threads duration threads
((batch <= 1000)) || die "BENCH_RUNBOOK_RUNS must be at most 1000 (one page of runs)"
require_tools curl awk timeout
bin="$build_dir/opsorch"
tool="$build_dir/opsorch-runbook-bench"
require_binaries "$build_dir" "$bin" "$tool" "$build_dir/opsorch-script-worker"

bench_setup
drop_opsorch_env

store_fs=$(findmnt -no FSTYPE,SOURCE -T "$tmp" 2>/dev/null | awk '{ print $1 " on " $2 }' || true)
[[ -n $store_fs ]] || store_fs=$(stat -f -c %T "$tmp")
problems=()
if [[ $store_fs == tmpfs* || $store_fs == ramfs* ]]; then
  log "warning: $tmp is on $store_fs; fsync costs nothing there (set TMPDIR to a disk)"
  problems+=("the stores were on $store_fs, not a disk: the durable figures are not meaningful")
fi
# What one synchronous write costs there, the floor under every group commit (as engine.sh).
sync_probe() {
  dd if=/dev/zero of="$tmp/sync.probe" bs=4k count=200 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s," || $i == "s") t = $(i - 1) }
         END { if (t != "") printf "%.0f µs\n", t * 1e6 / 200; else print "unknown" }'
  rm -f "$tmp/sync.probe"
}
sync_before=$(sync_probe)

# --- the loopback server, the workflow and the runbooks ---------------------------------------

up_port=$(free_port "$base_port")
next_port=$((up_port + 1))
"$tool" serve --listen "$up_port" >"$tmp/upstream.log" 2>&1 &
up_pid=$!
bench_track "$up_pid"
wait_http "http://127.0.0.1:$up_port/health" "$up_pid" "loopback server" "$tmp/upstream.log"

# The workflow step of every automated runbook step: POST the run and step id (from the step's
# input, runbooks.cc StepInput) to the loopback server; its answer is the step's result.
mkdir -p "$tmp/peer"
cat >"$tmp/wf.json" <<'EOF'
{"workflows": [{"name": "w", "steps": [
  {"id": "call", "url": "ctx.set_url('api', '/step'); ctx.set_method('POST')",
   "payload": "local i = ctx.json.decode(ctx.body()); ctx.set_body(ctx.json.encode({runId = i.runId, stepId = i.stepId}))"}]}]}
EOF
cp "$tmp/wf.json" "$tmp/peer/wf.json"
for d in "$tmp" "$tmp/peer"; do
  cat >"$d/boot.json" <<EOF
{"deployments": [{"id": "ops", "config": {"file": "wf.json"}, "persistence_dir": "state",
  "hosts": {"api": {"url": "http://127.0.0.1:$up_port", "allow_private": true}}}]}
EOF
done
runbook() {  # runbook ID: the five-step runbook
  cat <<EOF
{"id": "$1", "title": "Bench $1", "steps": [
  {"id": "a", "title": "A", "type": "invoke", "with": {"deployment": "ops", "step": "call"}},
  {"id": "b", "title": "B", "type": "invoke", "dependsOn": ["a"],
   "with": {"deployment": "ops", "step": "call"}},
  {"id": "c", "title": "C", "type": "invoke", "dependsOn": ["a"],
   "with": {"deployment": "ops", "step": "call"}},
  {"id": "approve", "title": "Approve", "type": "manual", "dependsOn": ["b", "c"],
   "with": {"instructions": "Approve the change"}},
  {"id": "d", "title": "D", "type": "invoke", "dependsOn": ["approve"],
   "with": {"deployment": "ops", "step": "call"}}]}
EOF
}
runbook bench >"$tmp/bench.json"
runbook warm >"$tmp/warm.json"

field() {  # field FILE KEY: the value of KEY=… on the file's first line
  awk -v k="$2" 'NR == 1 {
    for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
  }' "$1"
}

# batch NAME COMPLETE_CONNS: a fresh opsorch, the warm-up, then one measured batch of runs.
batch() {
  local name=$1 complete=$2 dir="$tmp/$1" port pid id metrics res v
  mkdir -p "$dir"
  port=$(free_port "$next_port")
  next_port=$((port + 1))
  env OPSORCH_ADDR="127.0.0.1:$port" OPSORCH_DATA_DIR="$dir/data" \
    OPSORCH_INCIDENT_PROVIDER=local OPSORCH_ORCHESTRATION_PROVIDER=local \
    OPSORCH_WORKFLOW_BOOTSTRAP="$tmp/boot.json" OPSORCH_RUNBOOK_THREADS="$rb_threads" \
    OPSORCH_HTTP_THREADS="$threads" "$bin" serve >"$dir/opsorch.log" 2>&1 &
  pid=$!
  bench_track "$pid"
  wait_http "http://127.0.0.1:$port/health" "$pid" opsorch "$dir/opsorch.log"
  for id in bench warm; do
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' \
      --data-binary "@$tmp/$id.json" "http://127.0.0.1:$port/admin/runbooks/$id" ||
      die "PUT /admin/runbooks/$id failed"
  done
  # Warm-up (not counted): script workers started, connections to the loopback server open.
  timeout -k 5 120 "$tool" runs --url "http://127.0.0.1:$port" \
    --upstream "http://127.0.0.1:$up_port" --plan warm --runs 16 --connections 8 --complete 8 \
    --timeout 60 >"$dir/warm.out" 2>"$dir/warm.err" || {
    cat "$dir/warm.err" >&2
    die "warm-up against opsorch failed"
  }
  timeout -k 5 400 "$tool" runs --url "http://127.0.0.1:$port" \
    --upstream "http://127.0.0.1:$up_port" --plan bench --runs "$batch" \
    --connections "$conns" --complete "$complete" --pid "$pid" --upstream-pid "$up_pid" \
    --timeout 300 >"$dir/tool.out" 2>"$dir/tool.err" || {
    cat "$dir/tool.err" "$dir/tool.out" >&2
    die "opsorch-runbook-bench runs failed ($name)"
  }
  check_alive "$pid" opsorch "$dir/opsorch.log"
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics" | grep '^opsorch_runbook_attempts_total' || true)
  for res in failed not_yet stale; do
    v=$(awk -v r="$res" 'index($0, "result=\"" r "\"") { print $NF + 0 }' <<<"$metrics")
    [[ -z $v || $v == 0 ]] || problems+=("$name: $v automated attempts $res")
  done
  stop "$pid"
  if grep -qiE 'error|warn|fail' "$dir/opsorch.log"; then
    problems+=("$name: log lines: \`$(grep -iE -m 3 'error|warn|fail' "$dir/opsorch.log" |
      cut -c 1-200 | paste -sd '|')\`")
  fi
  cp "$dir/tool.out" "$tmp/$name.out"
}

peer() {  # peer NAME THREADS: the same step through Runtime::RunStep
  local name=$1
  timeout -k 5 $((duration + 120)) "$tool" peer --boot "$tmp/peer/boot.json" \
    --upstream "http://127.0.0.1:$up_port" --threads "$2" --seconds "$duration" \
    --upstream-pid "$up_pid" >"$tmp/$name.out" 2>"$tmp/$name.err" || {
    cat "$tmp/$name.err" "$tmp/$name.out" >&2
    die "opsorch-runbook-bench peer failed ($name)"
  }
}

# --- measuring -------------------------------------------------------------------------------

bench_start
log "$runs rounds: peer ${rb_threads} threads, $batch runs (approvals c8), $batch runs (approvals c1), peer 1 thread"
declare -A vals
add() { vals[$1]+="$2 "; }  # add KEY VALUE
for ((r = 1; r <= runs; r++)); do
  peer "peer$r" "$rb_threads"
  f=$tmp/peer$r.out
  add peer_rate "$(field "$f" steps_per_s)"
  add peer_p50 "$(field "$f" step_ms_p50)"
  add peer_cpu_us "$(awk -v a="$(field "$f" cpu_runtime_ms)" -v b="$(field "$f" cpu_workers_ms)" \
    -v c="$(field "$f" cpu_upstream_ms)" -v n="$(field "$f" steps)" \
    'BEGIN { printf "%.0f/%.0f/%.0f", a * 1000 / n, b * 1000 / n, c * 1000 / n }')"
  (($(field "$f" failures) == 0)) || problems+=("peer$r: $(field "$f" failures) failed steps")
  log "round $r peer t$rb_threads: $(field "$f" steps_per_s) steps/s, p50 $(field "$f" step_ms_p50) ms"

  for c in 8 1; do
    name="c$c-$r"
    batch "$name" "$c"
    f=$tmp/$name.out
    add auto_rate "$(field "$f" auto_steps_per_s)"
    add "auto_rate_c$c" "$(field "$f" auto_steps_per_s)"
    add auto_ratio "$(awk -v a="$(field "$f" auto_steps_per_s)" -v b="$(field "$tmp/peer$r.out" steps_per_s)" \
      'BEGIN { printf "%.2f", a / b }')"
    add auto_wall "$(field "$f" auto_wall_s)"
    add auto_seen "$(field "$f" auto_seen_wall_s)"
    add starts_rate "$(field "$f" runs_started_per_s)"
    add run_auto_p50 "$(field "$f" run_auto_ms_p50)"
    add run_auto_p99 "$(field "$f" run_auto_ms_p99)"
    add "auto_cpu" "$(awk -v s="$(field "$f" auto_cpu_server_ms)" -v w="$(field "$f" auto_cpu_workers_ms)" \
      -v u="$(field "$f" auto_cpu_upstream_ms)" -v cl="$(field "$f" auto_cpu_client_ms)" -v n="$batch" \
      'BEGIN { printf "%.0f/%.0f/%.0f/%.0f", s * 1000 / (3 * n), w * 1000 / (3 * n), u * 1000 / (3 * n), cl * 1000 / (3 * n) }')"
    for ph in auto d; do  # "ours/others": % of one core during the phase
      t=$(field "$f" auto_seen_wall_s)
      [[ $ph == auto ]] || t=$(field "$f" d_phase_s)
      add "${ph}_wall_cpu" "$(awk -v s="$(field "$f" "${ph}_cpu_server_ms")" -v w="$(field "$f" "${ph}_cpu_workers_ms")" \
        -v u="$(field "$f" "${ph}_cpu_upstream_ms")" -v cl="$(field "$f" "${ph}_cpu_client_ms")" \
        -v m="$(field "$f" "${ph}_cpu_machine_ms")" -v t="$t" \
        'BEGIN { o = s + w + u + cl; x = m - o; if (x < 0) x = 0
                 printf "%.0f/%.0f", o / (t * 10), x / (t * 10) }')"
    done
    add "tail_c$c" "$(field "$f" tail_complete_ms_p50)+$(field "$f" tail_answer_to_d_ms_p50)"
    add "backlog_c$c" "$(field "$f" d_backlog_max)"
    add "rates_c$c" "$(awk -v a="$(field "$f" complete_wall_s)" -v b="$(field "$f" d_wall_s)" -v n="$batch" \
      'BEGIN { printf "%.0f/%.0f", n / a, n / b }')"
    add "whole_rate_c$c" "$(field "$f" whole_auto_steps_per_s)"
    add "whole_wall_c$c" "$(field "$f" whole_wall_s)"
    add "d_rate_c$c" "$(field "$f" d_steps_per_s)"
    for k in p50 p95 p99 max; do
      add "to_d_${k}_c$c" "$(field "$f" "to_d_ms_$k")"
      add "complete_${k}_c$c" "$(field "$f" "complete_ms_$k")"
    done
    add "answer_to_d_p50_c$c" "$(field "$f" answer_to_d_ms_p50)"
    for k in duplicates missing; do
      v=$(field "$f" "$k")
      ((v == 0)) || problems+=("$name: $k=$v upstream calls")
    done
    log "round $r batch c$c: $(field "$f" auto_steps_per_s) automated steps/s;" \
      "completion → d p50 $(field "$f" to_d_ms_p50) ms, p99 $(field "$f" to_d_ms_p99) ms"
  done

  peer "peer1t$r" 1
  f=$tmp/peer1t$r.out
  add peer1_rate "$(field "$f" steps_per_s)"
  add peer1_p50 "$(field "$f" step_ms_p50)"
  add peer1_arrive_p50 "$(field "$f" to_arrival_ms_p50)"
  add peer1_arrive_p99 "$(field "$f" to_arrival_ms_p99)"
  log "round $r peer t1: $(field "$f" steps_per_s) steps/s, RunStep → arrival p50 $(field "$f" to_arrival_ms_p50) ms"
done
sync_after=$(sync_probe)

# --- report ----------------------------------------------------------------------------------

med() { median <<<"${vals[$1]}"; }
each() { local v=${vals[$1]% }; echo "${v// / · }"; }
missed=0
verdict() {  # verdict P99_MS: yes / **no**
  if awk -v v="$1" -v t="$target_p99_ms" 'BEGIN { exit !(v <= t) }'; then echo yes; else echo "**no**"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_step_us() { awk -v r="$1" 'BEGIN { printf "%.0f", 1e6 / r }'; }
auto_rate=$(med auto_rate)
peer_rate=$(med peer_rate)
v8=$(verdict "$(med to_d_p99_c8)")
v1=$(verdict "$(med to_d_p99_c1)")
[[ $v8 == yes ]] || missed=$((missed + 1))
[[ $v1 == yes ]] || missed=$((missed + 1))
{
  echo "# opsorch runbooks"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/runbooks.sh\` (BENCH_RUNS=$runs BENCH_RUNBOOK_RUNS=$batch" \
    "BENCH_CONNECTIONS=$conns BENCH_RUNBOOK_THREADS=$rb_threads BENCH_DURATION=$duration)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "\`OPSORCH_ORCHESTRATION_PROVIDER=local\`, \`OPSORCH_INCIDENT_PROVIDER=local\`," \
    "$threads HTTP threads, OPSORCH_RUNBOOK_THREADS=$rb_threads, SQLite store on $store_fs" \
    "(a fresh one per batch); a 4 KiB O_DSYNC append took $sync_before before, $sync_after after"
  echo "- loopback server and load: \`$tool\` (cpp-httplib, keep-alive, TCP_NODELAY); the" \
    "server answers \`{\"ok\":true}\` and records each request's arrival (steady clock, µs)"
  echo "- machine: $(nproc) cores ($(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo));" \
    "opsorch, its script workers, the loopback server and the load share them; loopback only;" \
    "load average before the run: $load_before"
  echo
  echo "Runbook: \`a\` → \`b\`, \`c\` (parallel) → \`approve\` (manual) → \`d\`; each automated" \
    "step is the workflow step \`call\` (a Lua \`url\` and \`payload\` processor, a POST to the" \
    "loopback server). Medians of $runs rounds; each round: the peer at $rb_threads threads," \
    "a batch of $batch runs whose approvals go over 8 connections, a batch whose approvals go" \
    "over 1, the peer at 1 thread."
  echo
  echo "| measure | figure (median) | per round | peer / target | ratio / met? |"
  echo "|---|---|---|---|---|"
  echo "| automated steps/s: a, b, c of $batch runs started at once over $conns connections (first start sent → last of them finished) | $auto_rate ($(med auto_wall) s; $(med auto_seen) s until the load saw every run waiting) | $(each auto_rate) | peer: $peer_rate steps/s (same step, RunStep, $rb_threads threads) | $(ratio "$auto_rate" "$peer_rate")× |"
  echo "| the same, ÷ the peer of its round (batch c8, c1 per round) | | $(each auto_ratio) | | median $(med auto_ratio)× |"
  echo "| the same as wall time per step | $(per_step_us "$auto_rate") µs | | $(per_step_us "$peer_rate") µs | +$(awk -v a="$auto_rate" -v b="$peer_rate" 'BEGIN { printf "%.0f", 1e6 / a - 1e6 / b }') µs |"
  echo "| runs started/s (201 answers) | $(med starts_rate) | $(each starts_rate) | | |"
  echo "| per run: start sent → its last automated step finished, p50 / p99 ms | $(med run_auto_p50) / $(med run_auto_p99) | | | |"
  echo "| whole runbook, approvals over 8 connections as soon as all runs wait: 4 automated steps × $batch / (first start → last d finished) | $(med whole_rate_c8) steps/s ($(med whole_wall_c8) s) | $(each whole_rate_c8) | | |"
  echo "| step d alone after the approvals (8 connections): d steps/s | $(med d_rate_c8) | $(each d_rate_c8) | | |"
  echo "| completion sent → d's request at the loopback server, 8 connections: p50 / p95 / p99 / max ms | $(med to_d_p50_c8) / $(med to_d_p95_c8) / **$(med to_d_p99_c8)** / $(med to_d_max_c8) | p99 $(each to_d_p99_c8) | p99 ≤ $target_p99_ms ms | $v8 |"
  echo "| the same, 1 connection | $(med to_d_p50_c1) / $(med to_d_p95_c1) / **$(med to_d_p99_c1)** / $(med to_d_max_c1) | p99 $(each to_d_p99_c1) | p99 ≤ $target_p99_ms ms | $v1 |"
  echo "| POST …/approve/complete answered (200), 8 / 1 connections: p50 / p99 ms | $(med complete_p50_c8) / $(med complete_p99_c8) · $(med complete_p50_c1) / $(med complete_p99_c1) | | | |"
  echo "| 200 answer → d's request, p50 ms, 8 / 1 connections | $(med answer_to_d_p50_c8) / $(med answer_to_d_p50_c1) | | | |"
  echo "| peer, 1 thread: RunStep called → the request at the server, p50 / p99 ms (the part of the row above that is the step itself) | $(med peer1_arrive_p50) / $(med peer1_arrive_p99) | | | |"
  echo "| peer, 1 thread: steps/s (step p50 ms) | $(med peer1_rate) ($(med peer1_p50)) | | | |"
  echo "| CPU per automated step, opsorch / script workers / loopback server / load client (µs) | $(each auto_cpu) | | peer (runtime / workers / server): $(each peer_cpu_us) | |"
  echo "| the slowest 1% of completions (to_d ≥ p99), median of: POST answered + answer → d's request, ms, 8 connections | | $(each tail_c8) | | |"
  echo "| the same, 1 connection | | $(each tail_c1) | | |"
  echo "| completions answered/s / d steps finished/s; most completions answered whose d had not yet reached the server, 8 connections | | $(each rates_c8); $(each backlog_c8) | | |"
  echo "| the same, 1 connection | | $(each rates_c1); $(each backlog_c1) | | |"
  echo "| CPU during the automated phase, % of one core (200 = both): these processes / everything else on the machine | | $(each auto_wall_cpu) | | |"
  echo "| CPU during the approvals and d, % of one core: these processes / everything else | | $(each d_wall_cpu) | | |"
  if ((${#problems[@]})); then
    echo
    echo "Warnings:"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

# Every tool line, for what the table leaves out.
mkdir -p "$(dirname "$out")"
for f in "$tmp"/*.out; do
  echo "$(basename "$f" .out): $(head -n 1 "$f")"
done >"${out%.md}.raw.txt"
publish_report "$missed"
