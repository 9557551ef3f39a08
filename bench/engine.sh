#!/usr/bin/env bash
# Measures the incident engine's durable ingest (method and targets: docs/BENCHMARKS.md,
# "Incident engine ingest"): single PagerDuty Events v2 triggers on POST /v2/enqueue against
# Alertmanager 0.25 receiving single alerts on POST /api/v2/alerts, in the same run; and batches
# of 500 events on POST /v2/enqueue/batch. Every measurement runs against a server started fresh
# for it (opsorch: a new SQLite store on the local disk under the temporary directory;
# Alertmanager: new storage, no cluster, a null receiver). Prints the figures as Markdown.
#
# Usage: bench/engine.sh        (or: make bench-engine)
#
# Environment (all optional):
#   BUILD           build directory holding the opsorch binary                (default: build)
#   BENCH_DURATION  seconds per wrk run                                       (default: 5)
#   BENCH_RUNS      runs per measurement; the median is reported              (default: 3)
#   BENCH_THREADS   OPSORCH_HTTP_THREADS of opsorch                           (default: nproc)
#   BENCH_OUT       where the report is written      (default: bench/results/engine-latest.md)
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
resolve_out bench/results/engine-latest.md
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}
# First port tried: below Linux's ephemeral range and away from plugins.sh's 28180.
base_port=28280

keys=1000          # dedup keys (Alertmanager: label values) per wrk thread in the cycling mix
batch=500          # events per POST /v2/enqueue/batch
single_conns=16
batch_conns=(4 16)
routing_key=bench-routing-key-000000000000001

require_positive duration runs threads
require_tools wrk curl awk timeout
alertmanager=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[[ -n $alertmanager ]] || die "prometheus-alertmanager not found (run: make deps)"

bin="$build_dir/opsorch"
require_binaries "$build_dir" "$bin"

# --- set-up ----------------------------------------------------------------------------------

bench_setup
drop_opsorch_env

# The catalog: one service with one Events v2 integration key.
cat >"$tmp/seed.json" <<EOF
{"teams":[{"id":"bench","name":"Bench"}],
 "services":[{"id":"bench","name":"Bench service","team":"bench",
   "integrations":[{"id":"bench-events","name":"Events API v2","kind":"events_v2",
                    "key":"$routing_key"}]}]}
EOF

# Alertmanager's configuration: everything goes to a receiver without notifiers.
cat >"$tmp/alertmanager.yml" <<'EOF'
route:
  receiver: blackhole
receivers:
  - name: blackhole
EOF

# Durability is only measured if the store is on a disk: fsync on tmpfs costs nothing.
store_fs=$(findmnt -no FSTYPE,SOURCE -T "$tmp" 2>/dev/null | awk '{ print $1 " on " $2 }' ||
  true)
[[ -n $store_fs ]] || store_fs=$(stat -f -c %T "$tmp")
# What one synchronous write costs there, the floor under every group commit: the mean of 200
# 4 KiB O_DSYNC appends. It moves with other I/O on the machine; measured before and after.
sync_probe() {
  dd if=/dev/zero of="$tmp/sync.probe" bs=4k count=200 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s," || $i == "s") t = $(i - 1) }
         END { if (t != "") printf "%.0f µs\n", t * 1e6 / 200; else print "unknown" }'
  rm -f "$tmp/sync.probe"
}
sync_before=$(sync_probe)
problems=()
if [[ $store_fs == tmpfs* || $store_fs == ramfs* ]]; then
  log "warning: $tmp is on $store_fs; fsync costs nothing there (set TMPDIR to a disk)"
  problems+=("the stores were on $store_fs, not a disk: the durable figures are not meaningful")
fi

# write_lua FILE KIND MODE PER_REQUEST: the wrk script of one kind of load.
#   KIND: pd (one Events v2 event per POST), batch (a JSON array of PER_REQUEST events),
#         am (a JSON array of one Alertmanager alert)
#   MODE: cycle (each wrk thread cycles over $keys keys) or unique (every event a new key)
# Every response's status is counted, and in batch answers every event that was not stored;
# done() prints the totals after wrk's own summary ("engine-bench …" lines).
write_lua() {
  cat >"$1" <<EOF
local kind, mode, per_request, keys = "$2", "$3", $4, $keys
local routing_key = "$routing_key"
EOF
  cat >>"$1" <<'EOF'
local headers = {["Content-Type"] = "application/json"}
local threads, thread_count = {}, 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local function event(key)
  if kind == "am" then
    return '{"labels":{"alertname":"BenchAlert","key":"' .. key .. '","severity":"critical"},' ..
      '"annotations":{"summary":"Bench alert ' .. key .. '"}}'
  end
  return '{"routing_key":"' .. routing_key .. '","event_action":"trigger","dedup_key":"' .. key ..
    '","payload":{"summary":"Bench alert ' .. key ..
    '","source":"bench-host","severity":"critical"}}'
end

-- Request n (from 0) of this thread carries events n*per_request … n*per_request+per_request-1;
-- event i has the key "t<thread>-k<i mod keys>" (cycle) or "t<thread>-k<i>" (unique).
local function build(n)
  local parts = {}
  for j = 0, per_request - 1 do
    local i = n * per_request + j
    if mode == "cycle" then i = i % keys end
    parts[#parts + 1] = event("t" .. tid .. "-k" .. i)
  end
  local body = table.concat(parts, ",")
  if kind ~= "pd" then body = "[" .. body .. "]" end
  return wrk.format("POST", nil, headers, body)
end

local cache, period, n = {}, 1, 0

function init(args)
  codes, item_errors = {}, 0
  if mode == "cycle" then
    -- The requests repeat after keys / gcd(keys, per_request): build them once.
    local a, b = keys, per_request
    while b > 0 do a, b = b, a % b end
    period = keys / a
    for r = 0, period - 1 do cache[r] = build(r) end
  end
end

function request()
  local req
  if mode == "cycle" then req = cache[n % period] else req = build(n) end
  n = n + 1
  return req
end

local function count(body, needle)
  local c, pos = 0, 1
  while true do
    local s, e = string.find(body, needle, pos, true)
    if not s then return c end
    c, pos = c + 1, e + 1
  end
end

function response(status, hdrs, body)
  local s = tostring(status)
  codes[s] = (codes[s] or 0) + 1
  if kind == "batch" then
    item_errors = item_errors + count(body, '{"status":"error"') +
      count(body, '{"status":"invalid event"')
  end
end

function done(summary, latency, requests)
  local total, errors = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes") or {}) do total[k] = (total[k] or 0) + v end
    errors = errors + (t:get("item_errors") or 0)
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = k .. "=" .. v end
  table.sort(parts)
  io.write("engine-bench statuses: " .. table.concat(parts, " ") .. "\n")
  io.write("engine-bench item errors: " .. errors .. "\n")
end
EOF
}

mkdir -p "$tmp/lua"
write_lua "$tmp/lua/pd-cycle.lua" pd cycle 1
write_lua "$tmp/lua/pd-unique.lua" pd unique 1
write_lua "$tmp/lua/am-cycle.lua" am cycle 1
write_lua "$tmp/lua/am-unique.lua" am unique 1
write_lua "$tmp/lua/batch-cycle.lua" batch cycle "$batch"

# --- servers ---------------------------------------------------------------------------------

untrack() {  # untrack PID: after stop, so that cleanup never signals a reused PID
  local p keep=()
  for p in "${bench_pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  bench_pids=("${keep[@]}")
}

next_port=$base_port
# launch NAME LOGFILE ARGV...: runs ARGV in the background with "@PORT@" in its words replaced
# by a free loopback port; sets srv_port and srv_pid once the port accepts connections. A port
# taken between the check and the bind (servers start all the time on a shared machine) is
# skipped.
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

# post URL BODY WANT_STATUS NAME: the sanity check of a server; dies unless it answers WANT.
post() {
  local code
  code=$(curl -sS -o "$tmp/sanity.out" -w '%{http_code}' --max-time 10 \
    -H 'Content-Type: application/json' --data-binary "$2" "$1") || code=000
  [[ $code == "$3" ]] || {
    cat "$tmp/sanity.out" >&2 2>/dev/null || true
    die "$4: POST $1 answered $code, expected $3"
  }
}

pd_event() {  # pd_event DEDUP_KEY: one Events v2 trigger
  printf '{"routing_key":"%s","event_action":"trigger","dedup_key":"%s","payload":{"summary":"%s","source":"bench-host","severity":"critical"}}' \
    "$routing_key" "$1" "Bench sanity check"
}

start_opsorch() {  # start_opsorch DIR: a fresh store in DIR/data, log DIR/opsorch.log
  launch opsorch "$1/opsorch.log" env OPSORCH_ADDR="127.0.0.1:@PORT@" \
    OPSORCH_INCIDENT_PROVIDER=local OPSORCH_ENGINE_SEED="$tmp/seed.json" \
    OPSORCH_DATA_DIR="$1/data" OPSORCH_HTTP_THREADS="$threads" "$bin" serve
  wait_http "http://127.0.0.1:$srv_port/health" "$srv_pid" opsorch "$1/opsorch.log"
  # Both ingestion routes must store events before anything is measured.
  post "http://127.0.0.1:$srv_port/v2/enqueue" "$(pd_event bench-sanity)" 202 opsorch
  grep -q '"status":"success"' "$tmp/sanity.out" || die "opsorch: /v2/enqueue did not succeed"
  post "http://127.0.0.1:$srv_port/v2/enqueue/batch" \
    "[$(pd_event bench-sanity),$(pd_event bench-sanity)]" 202 opsorch
  [[ $(grep -o '{"status":"success"' "$tmp/sanity.out" | wc -l) == 3 ]] ||
    die "opsorch: /v2/enqueue/batch did not store both events: $(cat "$tmp/sanity.out")"
}

start_alertmanager() {  # start_alertmanager DIR: new storage in DIR/data, log DIR/alertmanager.log
  launch alertmanager "$1/alertmanager.log" "$alertmanager" \
    --config.file="$tmp/alertmanager.yml" --storage.path="$1/data" \
    --cluster.listen-address= --web.listen-address="127.0.0.1:@PORT@"
  wait_http "http://127.0.0.1:$srv_port/-/ready" "$srv_pid" alertmanager "$1/alertmanager.log"
  post "http://127.0.0.1:$srv_port/api/v2/alerts" \
    '[{"labels":{"alertname":"BenchAlert","key":"bench-sanity","severity":"critical"}}]' 200 \
    alertmanager
}

# metric_by FILE NAME LABEL: "value=count …" of the samples of NAME by LABEL (sorted), or "none".
metric_by() {
  local text
  text=$(awk -v name="$2" -v label="$3" '
    index($1, name "{") == 1 && $2 + 0 > 0 {
      v = $1; sub(".*" label "=\"", "", v); sub(/".*/, "", v)
      n[v] += $2
    }
    END { for (v in n) printf "%s=%d\n", v, n[v] }' "$1" | sort)
  [[ -n $text ]] || text=none
  echo "${text//$'\n'/ }"
}

# --- measuring -------------------------------------------------------------------------------

# The cells: server, load, connections, path, wrk script, events per request.
cells=(o_cyc a_cyc o_uni a_uni o_b4 o_b16)
declare -A c_server=([o_cyc]=opsorch [a_cyc]=alertmanager [o_uni]=opsorch [a_uni]=alertmanager
  [o_b4]=opsorch [o_b16]=opsorch)
declare -A c_conns=([o_cyc]=$single_conns [a_cyc]=$single_conns [o_uni]=$single_conns
  [a_uni]=$single_conns [o_b4]=${batch_conns[0]} [o_b16]=${batch_conns[1]})
declare -A c_path=([o_cyc]=/v2/enqueue [a_cyc]=/api/v2/alerts [o_uni]=/v2/enqueue
  [a_uni]=/api/v2/alerts [o_b4]=/v2/enqueue/batch [o_b16]=/v2/enqueue/batch)
declare -A c_lua=([o_cyc]=pd-cycle [a_cyc]=am-cycle [o_uni]=pd-unique [a_uni]=am-unique
  [o_b4]=batch-cycle [o_b16]=batch-cycle)
declare -A c_label=([o_cyc]="opsorch, cycling keys" [a_cyc]="Alertmanager, cycling labels"
  [o_uni]="opsorch, unique keys" [a_uni]="Alertmanager, unique labels"
  [o_b4]="opsorch batch c${batch_conns[0]}" [o_b16]="opsorch batch c${batch_conns[1]}")

declare -A rps p50 raw counted
total=$((${#cells[@]} * runs * (duration + 2)))
bench_start
log "${#cells[@]} cells x $runs runs of ${duration}s, a fresh server each; about ${total}s"

cell_no=0
for ((r = 1; r <= runs; r++)); do
  # Interleaved so that a slow phase of the machine hits opsorch and Alertmanager alike.
  for k in "${cells[@]}"; do
    cell_no=$((cell_no + 1))
    dir="$tmp/cell$cell_no"
    mkdir -p "$dir"
    server=${c_server[$k]}
    if [[ $server == opsorch ]]; then start_opsorch "$dir"; else start_alertmanager "$dir"; fi
    logfile="$dir/$server.log"
    cp "$tmp/lua/${c_lua[$k]}.lua" "$tmp/post.lua"
    read -r v_rps v_p50 v_bad v_err < <(run_wrk "$srv_port" "${c_path[$k]}" "${c_conns[$k]}" \
      "$duration")
    check_alive "$srv_pid" "$server" "$logfile"
    statuses=$(sed -n 's/^engine-bench statuses: //p' "$tmp/wrk.out")
    item_errors=$(sed -n 's/^engine-bench item errors: //p' "$tmp/wrk.out")
    responses=$(awk '/requests in/ { print $1; exit }' "$tmp/wrk.out")

    # What the server counted, sanity checks included.
    curl -fsS --max-time 10 -o "$dir/metrics" "http://127.0.0.1:$srv_port/metrics" ||
      die "$server: GET /metrics failed"
    if [[ $server == opsorch ]]; then
      actions=$(metric_by "$dir/metrics" opsorch_engine_events_total action)
      fact="stored events by action: $actions"
    else
      received=$(metric_by "$dir/metrics" alertmanager_alerts_received_total status)
      # Held in memory, whatever the state (they stay "unprocessed" until group_wait, 30 s).
      held=$(awk 'index($1, "alertmanager_alerts{") == 1 { n += $2 } END { print n + 0 }' \
        "$dir/metrics")
      fact="alerts received: $received; alerts held: $held"
    fi
    stop "$srv_pid"
    untrack "$srv_pid"
    if [[ $server == opsorch ]]; then
      # stop sends TERM and, 5 s later, KILL: the engine commits what is queued before it exits.
      grep -q 'opsorch stopped' "$logfile" ||
        problems+=("${c_label[$k]} run $r: opsorch did not stop within 5 s of SIGTERM (killed)")
      # After a clean stop SQLite has checkpointed the WAL into opsorch.db.
      fact+="; store after stop: $(du -sh "$dir/data" | cut -f1)"
      # Rows, if the sqlite3 shell is there (it is not a dependency).
      if command -v sqlite3 >/dev/null && [[ -f $dir/data/opsorch.db ]]; then
        rows=$(sqlite3 -readonly "$dir/data/opsorch.db" \
          'select count(*) from incidents; select count(*) from alerts;' 2>&1 | paste -sd ' ')
        fact+=" (incidents alerts: $rows)"
      fi
      [[ $actions != none ]] || problems+=("${c_label[$k]} run $r: no events counted")
      [[ $actions != *failed=* ]] ||
        problems+=("${c_label[$k]} run $r: events the engine failed to store: $actions")
    fi
    fact+="; log: $(log_fact "$logfile")"

    # Everything that was not a success, with the log lines that say why.
    bad_here=0
    ((v_bad == 0)) || {
      problems+=("${c_label[$k]} run $r: $v_bad non-2xx responses (statuses: $statuses)")
      bad_here=1
    }
    ((v_err == 0)) || {
      problems+=("${c_label[$k]} run $r: $v_err socket errors")
      bad_here=1
    }
    ((${item_errors:-0} == 0)) || {
      problems+=("${c_label[$k]} run $r: $item_errors events answered with an error inside 202s")
      bad_here=1
    }
    if ((bad_here)) || grep -qiE 'error|warn|fail' "$logfile"; then
      excerpt=$(grep -iE -m 5 -B 2 -A 2 'error|warn|fail|throttl' "$logfile" | cut -c 1-300 || true)
      [[ -z $excerpt ]] ||
        problems+=("${c_label[$k]} run $r: log lines: \`${excerpt//$'\n'/\` / \`}\`")
    fi

    rps[$k]+="$v_rps "
    p50[$k]+="$v_p50 "
    raw[$k]+="$(printf '%.0f/%.1f' "$v_rps" "$v_p50") "
    counted[$k $r]="- ${c_label[$k]} run $r: wrk saw $responses responses ($statuses); $fact"
    log "${c_label[$k]} run $r: $v_rps req/s, p50 ${v_p50} us${statuses:+ ($statuses)}"
  done
done

sync_after=$(sync_probe)

# --- report ----------------------------------------------------------------------------------

declare -A m_rps m_p50
for k in "${cells[@]}"; do
  m_rps[$k]=$(median <<<"${rps[$k]}")
  m_p50[$k]=$(median <<<"${p50[$k]}")
done

missed=0
{
  echo "# opsorch incident engine: durable ingest"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/engine.sh\`" \
    "(BENCH_DURATION=$duration BENCH_RUNS=$runs BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin")," \
    "\`OPSORCH_INCIDENT_PROVIDER=local\`, $threads HTTP threads, SQLite store (WAL, group" \
    "commit, answered after an fdatasync of the WAL) in a fresh data directory per measurement on" \
    "$store_fs (a 4 KiB O_DSYNC append there, mean of 200 by dd: $sync_before before the" \
    "measurements, $sync_after after)," \
    "default logging to a file"
  echo "- $("$alertmanager" --version 2>&1 | head -n 1 | sed 's/ (.*//'):" \
    "\`--cluster.listen-address=\` (no cluster), fresh \`--storage.path\` per measurement," \
    "one route to a receiver without notifiers; it keeps alerts in memory" \
    "(no write per request), opsorch answers 202 only after fsync"
  echo "- $(wrk_version); machine: $(machine_fact)"
  echo "- each cell: median of $runs runs of ${duration}s, each against a server started for" \
    "it (sanity requests first: opsorch 3 events, Alertmanager 1 alert), runs interleaved" \
    "in the order of the tables; no warm-up"
  echo "- load: one trigger per request at $single_conns connections (\`wrk -t2\`); cycling =" \
    "each wrk thread cycles over $keys dedup keys (Alertmanager: values of a \`key\` label)," \
    "so after the first pass nearly every event is a deduplication; unique = every event has a" \
    "new key (opsorch: every event opens an incident). Batches: $batch triggers per" \
    "\`POST /v2/enqueue/batch\`, keys cycling as above"
  echo
  echo "## Single events"
  echo
  echo "| keys | opsorch req/s | Alertmanager req/s | ratio | opsorch p50 µs |" \
    "Alertmanager p50 µs | target | met? |"
  echo "|---|---|---|---|---|---|---|---|"
  for mix in cyc uni; do
    target="—"
    check="1"
    if [[ $mix == cyc ]]; then
      target="≥ 2.00× Alertmanager"
      check="ratio >= 2"
    fi
    row=$(awk -v mix="$([[ $mix == cyc ]] && echo "cycling ($keys per thread)" || echo unique)" \
      -v or="${m_rps[o_$mix]}" -v ar="${m_rps[a_$mix]}" -v op="${m_p50[o_$mix]}" \
      -v ap="${m_p50[a_$mix]}" -v target="$target" "BEGIN {
        ratio = ar > 0 ? or / ar : 0
        met = target == \"—\" ? \"—\" : ($check) ? \"yes\" : \"**no**\"
        printf \"| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %s | %s |\n\",
               mix, or, ar, ratio, op, ap, target, met }")
    [[ $row != *'**no**'* ]] || missed=$((missed + 1))
    echo "$row"
  done
  echo
  echo "## Batches of $batch events"
  echo
  echo "| connections | req/s | events/s | p50 ms | target | met? |"
  echo "|---|---|---|---|---|---|"
  for k in o_b4 o_b16; do
    row=$(awk -v c="${c_conns[$k]}" -v r="${m_rps[$k]}" -v per="$batch" -v p="${m_p50[$k]}" '
      BEGIN {
        ev = r * per
        printf "| %d | %.1f | %.0f | %.1f | ≥ 100000 events/s | %s |\n",
               c, r, ev, p / 1000, (ev >= 100000 ? "yes" : "**no**") }')
    [[ $row != *'**no**'* ]] || missed=$((missed + 1))
    echo "$row"
  done
  echo
  echo "Per-run values (req/s / p50 µs), in run order:"
  echo
  for k in "${cells[@]}"; do
    echo "- ${c_label[$k]}: ${raw[$k]% }"
  done
  echo
  echo "Counted over each measurement (sanity requests included): statuses from wrk," \
    "events from \`opsorch_engine_events_total\` and Alertmanager's \`/metrics\`, store size" \
    "and rows after the server stopped:"
  echo
  for ((r = 1; r <= runs; r++)); do
    for k in "${cells[@]}"; do echo "${counted[$k $r]}"; done
  done
  if ((${#problems[@]})); then
    echo
    echo "Warnings (these runs measured errors, not only successes):"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

publish_report "$missed"
