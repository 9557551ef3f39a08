#!/usr/bin/env bash
# Measures paging (method and targets: docs/BENCHMARKS.md, "Paging"):
#   1. time to page: a steady BENCH_RATE of distinct PagerDuty Events v2 triggers on
#      POST /v2/enqueue for BENCH_DURATION s, each opening an incident whose escalation policy
#      pages one person by a signed webhook (Standard Webhooks); the time from the 202 to the
#      receiver having the signed request, beside Alertmanager 0.25 (group_wait 0s, one group
#      per alert) receiving the same rate of alerts on POST /api/v2/alerts, from its 200 to its
#      webhook, in the same run (build/opsorch-paging-bench latency);
#   2. escalation at scale: BENCH_SCALE_INCIDENTS triggers ingested in batches of 500 on one node
#      (SQLite) under a two-level policy (level 2 one minute after level 1), until every
#      incident's pages of both levels have arrived: levels fired/s, pages delivered/s, the
#      server's RSS; and the same ingest without a policy in the same run (the peer for what
#      paging costs the ingest) (build/opsorch-paging-bench scale);
#   3. on-call lookup (build/opsorch-oncall-bench).
# Prints the figures as Markdown.
#
# Usage: bench/paging.sh        (or: make bench-paging)
#
# Environment (all optional):
#   BUILD                  build directory                                     (default: build)
#   BENCH_DURATION         seconds of load per time-to-page run                (default: 20)
#   BENCH_RUNS             time-to-page runs per server; medians are reported  (default: 3)
#   BENCH_RATE             events (alerts) per second                          (default: 200)
#   BENCH_PEOPLE           people (services, policies) the time-to-page load is spread over,
#                          round robin; each gets BENCH_RATE/BENCH_PEOPLE pages/s (default: 8)
#   BENCH_SCALE_INCIDENTS  incidents of the scale run; 0 skips it              (default: 100000)
#   BENCH_SCALE_LEVELS     levels waited for: 1 (skips the minute) or 2        (default: 2)
#   BENCH_SCALE_SERVICES   services of the scale run, each with its own policy and two people
#                                                                              (default: 500)
#   BENCH_THREADS          OPSORCH_HTTP_THREADS                                (default: nproc)
#   BENCH_OUT              report file            (default: bench/results/paging-latest.md)
#   BENCH_STRICT           1 = exit 1 when a target is missed                  (default: 0)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-20}
runs=${BENCH_RUNS:-3}
rate=${BENCH_RATE:-200}
people=${BENCH_PEOPLE:-8}
scale_n=${BENCH_SCALE_INCIDENTS:-100000}
scale_levels=${BENCH_SCALE_LEVELS:-2}
scale_services=${BENCH_SCALE_SERVICES:-500}
threads=${BENCH_THREADS:-$(nproc)}
resolve_out bench/results/paging-latest.md
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}
# First port tried: away from run.sh (38080), plugins.sh (28180), engine.sh (28280) and
# workflow.sh (28380).
base_port=28480

require_positive duration runs rate people scale_services threads
[[ $scale_n =~ ^[0-9]+$ ]] || die "BENCH_SCALE_INCIDENTS must be a number"
[[ $scale_levels == 1 || $scale_levels == 2 ]] || die "BENCH_SCALE_LEVELS must be 1 or 2"
require_tools curl awk timeout
alertmanager=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[[ -n $alertmanager ]] || die "prometheus-alertmanager not found (run: make deps)"
bin="$build_dir/opsorch"
tool="$build_dir/opsorch-paging-bench"
oncall="$build_dir/opsorch-oncall-bench"
require_binaries "$build_dir" "$bin" "$tool" "$oncall"

bench_setup
drop_opsorch_env

# The receivers' ports first (nothing listens on them until the tool runs), the servers' after.
rec_o=$(free_port "$base_port")
rec_a=$(free_port $((rec_o + 1)))
next_port=$((rec_a + 1))
# 32 bytes, base64: a Standard Webhooks secret the receiver checks every page against.
secret="whsec_$(printf 'opsorch-paging-bench-secret-0001' | base64)"
routing_prefix=pb-routing-key-

# seed FILE SERVICES LEVELS: SERVICES services, each with an Events v2 key (…NNNN), its own
# policy and LEVELS (0: no policy) people with a signed webhook to the opsorch receiver. Level 1
# pages person "a" at once; level 2 pages person "b" one minute later; numLoops 0.
seed() {
  local file=$1 n=$2 levels=$3 s id lv sep=""
  {
    printf '{"users":['
    for ((s = 0; s < n && levels > 0; s++)); do
      for lv in a b; do
        [[ $lv == b && $levels -lt 2 ]] && continue
        id=$(printf 'pb-user-%04d%s' "$s" "$lv")
        printf '%s{"id":"%s","name":"Bench person %s","contactMethods":[{"id":"hook","type":"webhook","address":"http://127.0.0.1:%s/page/%s","secret":"%s"}],"notificationRules":[{"contactMethod":"hook","startDelayMinutes":0,"urgency":"high"},{"contactMethod":"hook","startDelayMinutes":0,"urgency":"low"}]}' \
          "$sep" "$id" "$id" "$rec_o" "$id" "$secret"
        sep=,
      done
    done
    printf '],"escalationPolicies":['
    sep=""
    for ((s = 0; s < n && levels > 0; s++)); do
      id=$(printf '%04d' "$s")
      printf '%s{"id":"pb-policy-%s","name":"Bench policy %s","numLoops":0,"rules":[{"delayMinutes":1,"targets":[{"type":"user","id":"pb-user-%sa"}]}' \
        "$sep" "$id" "$id" "$id"
      ((levels < 2)) || printf ',{"delayMinutes":30,"targets":[{"type":"user","id":"pb-user-%sb"}]}' "$id"
      printf ']}'
      sep=,
    done
    printf '],"services":['
    sep=""
    for ((s = 0; s < n; s++)); do
      id=$(printf '%04d' "$s")
      printf '%s{"id":"pb-svc-%s","name":"Bench service %s"' "$sep" "$id" "$id"
      ((levels == 0)) || printf ',"escalationPolicy":"pb-policy-%s"' "$id"
      printf ',"integrations":[{"id":"pb-int-%s","kind":"events_v2","key":"%s%s"}]}' \
        "$id" "$routing_prefix" "$id"
      sep=,
    done
    printf ']}\n'
  } >"$file"
}

seed "$tmp/seed-latency.json" "$people" 1
if ((scale_n > 0)); then
  seed "$tmp/seed-scale.json" "$scale_services" "$scale_levels"
  seed "$tmp/seed-scale-nopolicy.json" "$scale_services" 0
fi

# Alertmanager: one group per alertname, sent at once, to the tool's receiver.
cat >"$tmp/alertmanager.yml" <<EOF
route:
  receiver: bench
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: http://127.0.0.1:$rec_a/am
        send_resolved: false
EOF

store_fs=$(findmnt -no FSTYPE,SOURCE -T "$tmp" 2>/dev/null | awk '{ print $1 " on " $2 }' || true)
[[ -n $store_fs ]] || store_fs=$(stat -f -c %T "$tmp")
problems=()
if [[ $store_fs == tmpfs* || $store_fs == ramfs* ]]; then
  problems+=("the stores were on $store_fs, not a disk: the durable figures are not meaningful")
fi

start_opsorch() {  # start_opsorch DIR SEED: sets srv_port, srv_pid
  local dir=$1
  mkdir -p "$dir"
  srv_port=$(free_port "$next_port")
  next_port=$((srv_port + 1))
  env OPSORCH_ADDR="127.0.0.1:$srv_port" OPSORCH_INCIDENT_PROVIDER=local \
    OPSORCH_ENGINE_SEED="$2" OPSORCH_DATA_DIR="$dir/data" OPSORCH_HTTP_THREADS="$threads" \
    OPSORCH_OUTBOUND_ALLOW_NETS=127.0.0.0/8 "$bin" serve >"$dir/opsorch.log" 2>&1 &
  srv_pid=$!
  bench_track "$srv_pid"
  # Start-up applies the seed (a few seconds for the scale run's 1,000 people).
  wait_http "http://127.0.0.1:$srv_port/health" "$srv_pid" opsorch "$dir/opsorch.log"
}

start_alertmanager() {  # start_alertmanager DIR: sets srv_port, srv_pid
  local dir=$1
  mkdir -p "$dir"
  srv_port=$(free_port "$next_port")
  next_port=$((srv_port + 1))
  "$alertmanager" --config.file="$tmp/alertmanager.yml" --storage.path="$dir/data" \
    --cluster.listen-address= --web.listen-address="127.0.0.1:$srv_port" \
    >"$dir/alertmanager.log" 2>&1 &
  srv_pid=$!
  bench_track "$srv_pid"
  wait_http "http://127.0.0.1:$srv_port/-/ready" "$srv_pid" alertmanager "$dir/alertmanager.log"
}

field() {  # field FILE LINE-PREFIX KEY: the value of KEY=… on the first line starting with PREFIX
  awk -v p="$2" -v k="$3" 'index($0, p) == 1 {
    for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
  }' "$1"
}

bench_start
log "time to page: $runs runs x 2 servers x ${duration}s at $rate/s"

declare -A vals raw
cell_no=0
for ((r = 1; r <= runs; r++)); do
  for server in opsorch alertmanager; do
    cell_no=$((cell_no + 1))
    dir="$tmp/latency$cell_no"
    if [[ $server == opsorch ]]; then
      start_opsorch "$dir" "$tmp/seed-latency.json"
      listen=$rec_o
    else
      start_alertmanager "$dir"
      listen=$rec_a
    fi
    timeout -k 5 $((duration * 3 + 60)) "$tool" latency --target "$server" \
      --url "http://127.0.0.1:$srv_port" --listen "$listen" --rate "$rate" \
      --duration "$duration" --services "$people" --key-prefix "$routing_prefix" \
      --secret "$secret" --run-id "$r" --grace 10 >"$dir/tool.out" 2>"$dir/tool.err" || {
      cat "$dir/tool.err" "$dir/tool.out" >&2
      die "opsorch-paging-bench failed against $server"
    }
    check_alive "$srv_pid" "$server" "$dir/$server.log"
    stop "$srv_pid"
    tout="$dir/tool.out"
    for k in p50 p90 p99 max; do
      vals[$server $k]+="$(field "$tout" answer_to_page_ms "$k") "
      vals[$server send_$k]+="$(field "$tout" send_to_page_ms "$k") "
    done
    missing=$(field "$tout" "paging-bench target" missing)
    answered=$(field "$tout" "paging-bench target" answered_ok)
    events=$(field "$tout" "paging-bench target" events)
    negative=$(field "$tout" "paging-bench target" negative)
    for k in duplicates bad_signature unmatched late_sends; do
      v=$(field "$tout" "paging-bench target" "$k")
      ((v == 0)) || problems+=("$server run $r: $k=$v")
    done
    ((missing == 0)) || problems+=("$server run $r: $missing of $answered pages never arrived")
    ((answered == events)) ||
      problems+=("$server run $r: only $answered of $events requests were accepted")
    raw[$server]+="$(field "$tout" answer_to_page_ms p50)/$(field "$tout" answer_to_page_ms p99)/$(field "$tout" answer_to_page_ms max) "
    raw[$server neg]+="$negative "
    log "$server run $r: answer→page p50 $(field "$tout" answer_to_page_ms p50) ms," \
      "p99 $(field "$tout" answer_to_page_ms p99) ms, missing $missing"
  done
done

# --- escalation at scale ---------------------------------------------------------------------

if ((scale_n > 0)); then
  log "scale: $scale_n incidents without a policy (ingest only), then with the two-level policy"
  dir="$tmp/scale-nopolicy"
  start_opsorch "$dir" "$tmp/seed-scale-nopolicy.json"
  "$tool" scale --url "http://127.0.0.1:$srv_port" --listen "$rec_o" --incidents "$scale_n" \
    --batch 500 --connections 2 --services "$scale_services" --key-prefix "$routing_prefix" \
    --secret "$secret" --levels 0 --run-id np >"$dir/tool.out" 2>"$dir/tool.err" ||
    die "opsorch-paging-bench scale (no policy) failed: $(cat "$dir/tool.err")"
  stop "$srv_pid"
  np_eps=$(field "$dir/tool.out" "paging-bench scale" events_per_s)
  np_s=$(field "$dir/tool.out" "paging-bench scale" ingest_s)

  dir="$tmp/scale"
  start_opsorch "$dir" "$tmp/seed-scale.json"
  scale_pid=$srv_pid
  timeout -k 5 900 "$tool" scale --url "http://127.0.0.1:$srv_port" --listen "$rec_o" \
    --incidents "$scale_n" --batch 500 --connections 2 --services "$scale_services" \
    --key-prefix "$routing_prefix" --secret "$secret" --levels "$scale_levels" --timeout 600 \
    --run-id sc >"$dir/tool.out" 2>"$dir/tool.err" ||
    die "opsorch-paging-bench scale failed: $(cat "$dir/tool.err")"
  hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$scale_pid/status")
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$scale_pid/status")
  store_size=$(du -sh "$dir/data" | cut -f1)
  stop "$scale_pid"
  cp "$dir/tool.out" "$tmp/scale.out"
  for k in bad_batches item_errors; do
    v=$(field "$dir/tool.out" "paging-bench scale" "$k")
    ((v == 0)) || problems+=("scale: $k=$v")
  done
  for k in duplicates bad_signature unmatched; do
    v=$(field "$dir/tool.out" "paging-bench receiver" "$k")
    ((v == 0)) || problems+=("scale: receiver $k=$v")
  done
  if grep -qiE 'error|warn|fail' "$dir/opsorch.log"; then
    problems+=("scale: log lines: \`$(grep -iE -m 3 'error|warn|fail' "$dir/opsorch.log" |
      cut -c 1-200 | paste -sd '|')\`")
  fi
fi

oncall_out=$("$oncall")

# --- report ----------------------------------------------------------------------------------

med() { median <<<"${vals[$1]}"; }
missed=0
{
  echo "# opsorch paging"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/paging.sh\` (BENCH_DURATION=$duration BENCH_RUNS=$runs" \
    "BENCH_RATE=$rate BENCH_PEOPLE=$people BENCH_SCALE_INCIDENTS=$scale_n" \
    "BENCH_SCALE_LEVELS=$scale_levels BENCH_SCALE_SERVICES=$scale_services)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "\`OPSORCH_INCIDENT_PROVIDER=local\`, $threads HTTP threads, SQLite store on $store_fs," \
    "a fresh store per measurement, \`OPSORCH_OUTBOUND_ALLOW_NETS=127.0.0.0/8\`"
  echo "- $("$alertmanager" --version 2>&1 | head -n 1 | sed 's/ (.*//'): no cluster," \
    "\`group_by: [alertname]\`, \`group_wait: 0s\`, \`group_interval: 1s\`, one webhook" \
    "receiver; fresh storage per measurement"
  echo "- receiver and load: \`$tool\` (cpp-httplib, keep-alive, TCP_NODELAY); opsorch pages" \
    "are checked against their Standard Webhooks signature"
  echo "- machine: $(machine_fact)"
  echo
  echo "## Time to page ($rate events/s for ${duration}s, median of $runs runs)"
  echo
  echo "Each opsorch event opens an incident on one of $people services whose one-level policy" \
    "pages its own person (so each person gets $((rate / people)) pages/s); each Alertmanager" \
    "alert has its own alertname (its own group). Time from the answer (opsorch 202," \
    "Alertmanager 200) to the receiver having the webhook request; in parentheses from the" \
    "request's start."
  echo
  echo "| server | p50 ms | p90 ms | p99 ms | max ms | target | met? |"
  echo "|---|---|---|---|---|---|---|"
  for server in opsorch alertmanager; do
    row=$(awk -v s="$server" -v p50="$(med "$server p50")" -v p90="$(med "$server p90")" \
      -v p99="$(med "$server p99")" -v mx="$(med "$server max")" \
      -v s50="$(med "$server send_p50")" -v s90="$(med "$server send_p90")" \
      -v s99="$(med "$server send_p99")" -v smx="$(med "$server send_max")" 'BEGIN {
        name = s == "opsorch" ? "opsorch" : "Alertmanager"
        target = s == "opsorch" ? "p99 ≤ 50 ms" : "—"
        met = s == "opsorch" ? (p99 <= 50 ? "yes" : "**no**") : "—"
        printf "| %s | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | %s | %s |\n",
          name, p50, s50, p90, s90, p99, s99, mx, smx, target, met }')
    [[ $row != *'**no**'* ]] || missed=$((missed + 1))
    echo "$row"
  done
  awk -v o50="$(med "opsorch p50")" -v a50="$(med "alertmanager p50")" \
    -v o99="$(med "opsorch p99")" -v a99="$(med "alertmanager p99")" \
    -v os50="$(med "opsorch send_p50")" -v as50="$(med "alertmanager send_p50")" \
    -v os99="$(med "opsorch send_p99")" -v as99="$(med "alertmanager send_p99")" 'BEGIN {
      printf "| opsorch − Alertmanager | %+.2f (%+.2f) | | %+.2f (%+.2f) | | | |\n",
        o50 - a50, os50 - as50, o99 - a99, os99 - as99
      if (a99 > 0 && as99 > 0)
        printf "| ratio opsorch ÷ Alertmanager | %.1f× (%.1f×) | | %.1f× (%.1f×) | | | |\n",
          (a50 > 0 ? o50 / a50 : 0), os50 / as50, o99 / a99, os99 / as99 }'
  echo
  echo "Per run, answer → page p50/p99/max ms: opsorch ${raw[opsorch]% }; Alertmanager" \
    "${raw[alertmanager]% }. Pages that arrived before the answer (negative times, counted" \
    "in the percentiles): opsorch ${raw[opsorch neg]% }; Alertmanager ${raw[alertmanager neg]% }" \
    "(of $((rate * duration)) per run)."
  if ((scale_n > 0)); then
    s=$tmp/scale.out
    echo
    echo "## Escalation at scale ($scale_n incidents, one node, SQLite)"
    echo
    echo "$scale_services services, each with its own policy: level 1 pages person a at once" \
      "(in the trigger's own transaction), level 2 pages person b one minute later (an" \
      "escalation job the pager's runner fires). Triggers in batches of 500 on 2 connections."
    echo
    echo "| measure | figure | target | met? |"
    echo "|---|---|---|---|"
    echo "| ingest without a policy (same services; peer) | $(printf '%.0f' "$np_eps") events/s ($np_s s) | | |"
    echo "| ingest with the policy (level 1 fired in each trigger's transaction) | $(printf '%.0f' "$(field "$s" "paging-bench scale" events_per_s)") events/s ($(field "$s" "paging-bench scale" ingest_s) s) | | |"
    for level in $(seq 1 "$scale_levels"); do
      pre="paging-bench level=$level"
      got=$(field "$s" "$pre" pages)
      per_s=$(field "$s" "$pre" pages_per_s_span)
      from=$(field "$s" "$pre" fired_first_seen_s)
      to=$(field "$s" "$pre" fired_all_seen_s)
      if ((level == 1)); then
        fired=$(awk -v n="$scale_n" -v s="$(field "$s" "paging-bench scale" ingest_s)" \
          'BEGIN { printf "%.0f", n / s }')
        echo "| level 1 fired/s (with the ingest) | $fired | ≥ 5,000 levels/s | $(awk -v f="$fired" 'BEGIN { print (f >= 5000 ? "yes" : "**no**") }') |"
      else
        fired=$(awk -v n="$scale_n" -v a="$from" -v b="$to" \
          'BEGIN { d = b - a; if (d < 0.1) d = 0.1; printf "%.0f", n / d }')
        echo "| level 2 fired/s (escalation jobs → outbox; /metrics at 100 ms, first to last: $from → $to s) | $fired | ≥ 5,000 levels/s | $(awk -v f="$fired" 'BEGIN { print (f >= 5000 ? "yes" : "**no**") }') |"
      fi
      [[ $(awk -v f="$fired" 'BEGIN { print (f >= 5000 ? 1 : 0) }') == 1 ]] || missed=$((missed + 1))
      echo "| level $level pages delivered/s (first to last page at the receiver: $(field "$s" "$pre" first_page_s) → $(field "$s" "$pre" last_page_s) s; $got of $scale_n) | $per_s | | |"
      echo "| level $level page after its $([[ $level == 1 ]] && echo "batch's 202" || echo "due time (batch's 202 + 60 s)"): p50 / p99 / max ms | $(awk -v p="level${level}_after" 'index($0, p) == 1 { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } printf "%s / %s / %s", v["p50"], v["p99"], v["max"] }' "$s") | | |"
    done
    echo "| server RSS at the end: VmHWM / VmRSS | $hwm / $rss MB | | |"
    echo "| store after stop | $store_size | | |"
    echo
    echo "Counters over time (s since the ingest started : levels fired : pages recorded sent):" \
      "$(sed -n 's/^paging-bench series //p' "$s")"
  fi
  echo
  echo "## On-call lookup (\`$oncall\`)"
  echo
  echo '```'
  echo "$oncall_out"
  echo '```'
  if ((${#problems[@]})); then
    echo
    echo "Warnings:"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

publish_report "$missed"
