#!/usr/bin/env bash
# Measures the cost of serving the incident capability through a stdio plugin process: three
# opsorch servers started in the same run answer POST /incidents/query with the in-process mock
# provider, with `opsorch-plugin-mock` in a pool of 1 process, and in a pool of 4. Prints the
# round-trip cost at 1 connection and the throughput ratios at 16 as a Markdown table
# (method and targets: docs/BENCHMARKS.md, "Plugin round trip").
#
# Usage: bench/plugins.sh        (or: make bench-plugins)
#
# Environment (all optional):
#   BUILD           build directory holding opsorch and opsorch-plugin-mock   (default: build)
#   BENCH_DURATION  seconds per wrk run                                       (default: 5)
#   BENCH_RUNS      runs per measurement; the median is reported              (default: 3)
#   BENCH_THREADS   OPSORCH_HTTP_THREADS of each server                       (default: nproc)
#   BENCH_OUT       where the report is written     (default: bench/results/plugins-latest.md)
#   BENCH_STRICT    1 = exit 1 when a target is missed                        (default: 0)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-5}
runs=${BENCH_RUNS:-3}
threads=${BENCH_THREADS:-$(nproc)}
body=$bench_default_body
resolve_out bench/results/plugins-latest.md
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}
# First port tried: below Linux's default ephemeral range (32768-60999), so that no client
# socket of the busy machine holds it, and away from the usual 8080/18080.
base_port=28180

require_positive duration runs threads
require_tools wrk curl awk timeout

bin="$build_dir/opsorch"
plugin="$build_dir/opsorch-plugin-mock"
require_binaries "$build_dir" "$bin" "$plugin"
# opsorch executes the plugin path as given; an absolute one does not depend on its directory.
plugin_abs="$(cd "$(dirname "$plugin")" && pwd)/$(basename "$plugin")"

# --- processes -------------------------------------------------------------------------------

bench_setup

# The servers, in the order their runs interleave. Everything but the incident capability is
# the same: default logging (the audit line is part of the request path) to a file each, the same
# HTTP threads, the default OPSORCH_BLOCKING_THREADS (16) on which plugin calls run.
servers=(inproc pool1 pool4)
declare -A label=([inproc]="in-process" [pool1]="plugin pool 1" [pool4]="plugin pool 4")
declare -A server_env=(
  [inproc]="OPSORCH_INCIDENT_PROVIDER=mock"
  [pool1]="OPSORCH_INCIDENT_PLUGIN=$plugin_abs OPSORCH_INCIDENT_PLUGIN_POOL=1"
  [pool4]="OPSORCH_INCIDENT_PLUGIN=$plugin_abs OPSORCH_INCIDENT_PLUGIN_POOL=4"
)
declare -A port pid

[[ $plugin_abs != *[[:space:]]* ]] || die "the plugin path must not contain spaces: $plugin_abs"
drop_opsorch_env
next_port=$base_port
for s in "${servers[@]}"; do
  # A port that free_port found unused can be taken before opsorch binds it (tests and other
  # servers start all the time on a shared machine); then the next one is tried.
  for ((attempt = 1; ; attempt++)); do
    port[$s]=$(free_port "$next_port")
    next_port=$((port[$s] + 1))
    # server_env holds NAME=VALUE words without spaces (the plugin path is checked above).
    # shellcheck disable=SC2086
    env ${server_env[$s]} OPSORCH_ADDR="127.0.0.1:${port[$s]}" OPSORCH_HTTP_THREADS="$threads" \
      "$bin" serve >"$tmp/$s.log" 2>&1 &
    pid[$s]=$!
    bench_track "${pid[$s]}"
    for ((i = 0; i < 150; i++)); do
      port_in_use "${port[$s]}" && break
      kill -0 "${pid[$s]}" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "${pid[$s]}" 2>/dev/null && ((attempt < 5)) &&
      grep -q 'Address already in use' "$tmp/$s.log"; then
      log "${label[$s]}: port ${port[$s]} was taken before opsorch could bind it; trying another"
      continue
    fi
    break
  done
  wait_http "http://127.0.0.1:${port[$s]}/health" "${pid[$s]}" "opsorch (${label[$s]})" \
    "$tmp/$s.log"
done

# Every server must give 200 to the POST, else the numbers would measure an error path. This
# first call also starts the first plugin process. The mock's answers carry times relative to
# its start, so the bodies differ in a few digits; their sizes are reported.
declare -A resp_bytes
for s in "${servers[@]}"; do
  curl -fsS -o "$tmp/$s.response" --max-time 5 -H 'Content-Type: application/json' \
    --data-binary "$body" "http://127.0.0.1:${port[$s]}/incidents/query" ||
    die "POST /incidents/query on :${port[$s]} (${label[$s]}) failed"
  resp_bytes[$s]=$(wc -c <"$tmp/$s.response")
done

write_post_lua "$body"

# --- measuring -------------------------------------------------------------------------------

alive() {
  local s
  for s in "${servers[@]}"; do check_alive "${pid[$s]}" "opsorch (${label[$s]})" "$tmp/$s.log"; done
}

bench_start
path=/incidents/query
conns_list=(1 16)
declare -A rps p50 raw
problems=()
total=$((${#conns_list[@]} * runs * ${#servers[@]} * duration + ${#servers[@]}))
log "in-process :${port[inproc]}, plugin pool 1 :${port[pool1]}, plugin pool 4 :${port[pool4]}," \
  "$threads HTTP threads each, ${duration}s x $runs runs per cell; about ${total}s"

# Warm-up (not recorded), at 16 connections so that pool 4 has started all its processes.
for s in "${servers[@]}"; do run_wrk "${port[$s]}" "$path" 16 1 >/dev/null; done
alive

for c in "${conns_list[@]}"; do
  for ((r = 1; r <= runs; r++)); do
    # Interleaved so that a slow phase of the machine hits all three alike.
    for s in "${servers[@]}"; do
      read -r v_rps v_p50 v_bad v_err < <(run_wrk "${port[$s]}" "$path" "$c" "$duration")
      alive
      record_run "$s $c" "${label[$s]} c$c run $r" "$v_rps" "$v_p50" "$v_bad" "$v_err"
    done
  done
done

# What each server counted, warm-up included: responses by status, plugin starts and failures.
# metric_sum FILE REGEX: sum of the samples whose "name{labels}" matches REGEX.
metric_sum() {
  awk -v re="$2" '$1 ~ re { n += $2 } END { printf "%d\n", n }' "$1"
}
# metric_by FILE NAME LABEL: "value ×count, …" of the samples of NAME by LABEL, or "none".
metric_by() {
  local text
  text=$(awk -v name="$2" -v label="$3" '
    index($1, name "{") == 1 && $2 + 0 > 0 {
      v = $1; sub(".*" label "=\"", "", v); sub(/".*/, "", v)
      n[v] += $2
    }
    END { for (v in n) printf "%s ×%d\n", v, n[v] }' "$1" | sort)
  [[ -n $text ]] || text=none
  echo "${text//$'\n'/, }"
}
declare -A codes starts failures
for s in "${servers[@]}"; do
  curl -fsS --max-time 5 -o "$tmp/$s.metrics" "http://127.0.0.1:${port[$s]}/metrics" ||
    die "GET /metrics on :${port[$s]} (${label[$s]}) failed"
  codes[$s]=$({ grep '^opsorch_http_requests_total{route="/incidents/query"' "$tmp/$s.metrics" ||
    true; } | metric_by /dev/stdin opsorch_http_requests_total code)
  starts[$s]=$(metric_sum "$tmp/$s.metrics" '^opsorch_plugin_starts_total[{]')
  failures[$s]=$(metric_by "$tmp/$s.metrics" opsorch_plugin_failures_total code)
  [[ ${codes[$s]} =~ ^200\ ×[0-9]+$ ]] ||
    problems+=("${label[$s]}: /incidents/query responses by status: ${codes[$s]}")
  [[ ${failures[$s]} == none ]] || problems+=("${label[$s]}: plugin call failures: ${failures[$s]}")
done
for s in pool1 pool4; do
  n=${s#pool}
  ((starts[$s] == n)) ||
    problems+=("${label[$s]}: ${starts[$s]} plugin processes started (expected $n)")
done

# --- report ----------------------------------------------------------------------------------

declare -A m_rps m_p50
for s in "${servers[@]}"; do
  for c in "${conns_list[@]}"; do
    m_rps[$s $c]=$(median <<<"${rps[$s $c]}")
    m_p50[$s $c]=$(median <<<"${p50[$s $c]}")
  done
done

missed=0
{
  echo "# opsorch: incident plugin vs in-process provider"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/plugins.sh\`" \
    "(BENCH_DURATION=$duration BENCH_RUNS=$runs BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "\`$plugin\` built $(built_at "$plugin"), default logging to a file"
  echo "- servers, started together with $threads HTTP threads and the default 16 blocking" \
    "threads each: in-process = \`OPSORCH_INCIDENT_PROVIDER=mock\`;" \
    "plugin pool 1 = \`OPSORCH_INCIDENT_PLUGIN=$plugin\`;" \
    "plugin pool 4 = the same with \`OPSORCH_INCIDENT_PLUGIN_POOL=4\`"
  echo "- $(wrk_version); machine: $(machine_fact)"
  echo "- each cell: median of $runs runs of ${duration}s, runs interleaved in-process, pool 1," \
    "pool 4; \`POST /incidents/query\` body \`$body\`; response" \
    "${resp_bytes[inproc]} / ${resp_bytes[pool1]} / ${resp_bytes[pool4]} bytes"
  echo
  echo "| server | connections | req/s | ratio to in-process | p50 µs | Δp50 µs | target | met? |"
  echo "|---|---|---|---|---|---|---|---|"
  for c in "${conns_list[@]}"; do
    for s in "${servers[@]}"; do
      # c1 plugin rows: the round trip (added p50); c16 pool 4: throughput ratio.
      target="—"
      check="1"
      if [[ $s != inproc ]] && ((c == 1)); then
        target="Δp50 ≤ 30 µs"
        check="d <= 30"
      elif [[ $s == pool4 ]]; then
        target="≥ 0.50× in-process"
        check="ratio >= 0.5"
      fi
      row=$(awk -v who="${label[$s]}" -v c="$c" -v r="${m_rps[$s $c]}" \
        -v ir="${m_rps[inproc $c]}" -v p="${m_p50[$s $c]}" -v ip="${m_p50[inproc $c]}" \
        -v target="$target" -v own="$([[ $s == inproc ]] && echo 1 || echo 0)" "BEGIN {
          ratio = ir > 0 ? r / ir : 0; d = p - ip
          met = target == \"—\" ? \"—\" : ($check) ? \"yes\" : \"**no**\"
          dtext = own ? \"—\" : sprintf(\"%+.1f\", d)
          printf \"| %s | %d | %.0f | %.2f | %.1f | %s | %s | %s |\n\",
                 who, c, r, ratio, p, dtext, target, met }")
      [[ $row != *'**no**'* ]] || missed=$((missed + 1))
      echo "$row"
    done
  done
  echo
  read -r d1 d4 ratio1 ratio4 < <(awk -v ip="${m_p50[inproc 1]}" -v p1="${m_p50[pool1 1]}" \
    -v p4="${m_p50[pool4 1]}" -v ir="${m_rps[inproc 16]}" -v r1="${m_rps[pool1 16]}" \
    -v r4="${m_rps[pool4 16]}" 'BEGIN {
      q1 = ir > 0 ? r1 / ir : 0; q4 = ir > 0 ? r4 / ir : 0
      printf "%+.1f %+.1f %.2f %.2f\n", p1 - ip, p4 - ip, q1, q4
    }')
  echo "- **plugin round-trip p50 (c1): $d1 µs** with pool 1, $d4 µs with pool 4" \
    "(target ≤ 30 µs)"
  printf -- '- plugin c1 absolute p50: %.1f µs (pool 1), %.1f µs (pool 4); in-process: %.1f µs\n' \
    "${m_p50[pool1 1]}" "${m_p50[pool4 1]}" "${m_p50[inproc 1]}"
  echo "- c16 throughput: pool 1 = ${ratio1}×, pool 4 = ${ratio4}× in-process" \
    "(target: pool 4 ≥ 0.50×)"
  echo
  echo "How the round trip is measured: \"round-trip p50\" is the median latency of the whole" \
    "HTTP request at 1 connection (wrk's p50) through a plugin server minus the same through the" \
    "in-process server, measured in the same run. That difference is what a client sees the" \
    "plugin add: hand-off to the blocking pool, request encode, pipe write, the plugin's decode," \
    "query and encode, pipe read, decode and re-encode of the result. It is not a" \
    "pipe-only figure. At 1 connection pool 4 uses one of its processes, so its c1 row measures" \
    "the same path as pool 1's."
  echo
  echo "Per-run values (req/s / p50 µs), in run order:"
  echo
  for c in "${conns_list[@]}"; do
    for s in "${servers[@]}"; do
      echo "- ${label[$s]} c$c: ${raw[$s $c]% }"
    done
  done
  echo
  echo "Counted by each server over the whole run, warm-up and checks included (\`/metrics\`):"
  echo
  for s in "${servers[@]}"; do
    line="- ${label[$s]}: /incidents/query responses by status: ${codes[$s]}"
    [[ $s == inproc ]] ||
      line+="; plugin processes started: ${starts[$s]}; plugin call failures: ${failures[$s]}"
    echo "$line; log: $(log_fact "$tmp/$s.log")"
  done
  if ((${#problems[@]})); then
    echo
    echo "Warnings (these runs measured errors, not only successes):"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

publish_report "$missed"
