#!/usr/bin/env bash
# Measures the incident engine's durable ingest (method and targets: docs/BENCHMARKS.md,
# "Incident engine ingest"): single PagerDuty Events v2 triggers on POST /v2/enqueue against
# Alertmanager 0.25 receiving single alerts on POST /api/v2/alerts, in the same run; and batches
# of 500 events on POST /v2/enqueue/batch. Every measurement runs against a server started fresh
# for it (opsorch: a new SQLite store on the local disk under the temporary directory, or a new
# database in a private PostgreSQL 15 cluster; Alertmanager: new storage, no cluster, a null
# receiver). Prints the figures as Markdown.
#
# Both stores are measured in the same run, cell by cell back to back (the machine is noisy: a
# ratio only means something between figures of one run). Per store: single events with cycling
# keys at 16 and 64 connections and with unique keys at 16; batches of 500 with cycling keys at 4
# and 16 connections and with unique keys at 4. Alertmanager (single events at 16 connections,
# cycling and unique labels) runs once, as the peer of the SQLite figures, and only when SQLite is
# measured. With PostgreSQL also two opsorch nodes on one database (same seed, ports of their
# own), each driven by its own wrk at the same time (32 connections each, cycling keys): once with
# disjoint key prefixes, once with the same keys on both nodes (they contend for them); their
# combined rate is reported beside one node's at 64 connections.
#
# PostgreSQL: scripts/pg-test-cluster starts a private cluster under the temporary directory
# (its defaults: fsync on, synchronous_commit on, shared_buffers 64MB, loopback TCP only) and the
# exit trap stops it. Every measurement gets a database of its own (CREATE DATABASE on the admin
# URL; OPSORCH_ENGINE_STORE=postgres://…/that-database), dropped after the measurement and
# followed by a CHECKPOINT, so that no measurement inherits another's dirty pages.
#
# Usage: bench/engine.sh        (or: make bench-engine)
#
# Environment (all optional):
#   BUILD           build directory holding the opsorch binary                (default: build)
#   BENCH_STORES    the stores to measure, space-separated: sqlite, postgres
#                                                                  (default: "sqlite postgres")
#   BENCH_DURATION  seconds per wrk run                                       (default: 5)
#   BENCH_RUNS      runs per measurement; the median is reported              (default: 3)
#   BENCH_THREADS   OPSORCH_HTTP_THREADS of opsorch                           (default: nproc)
#   BENCH_OUT       where the report is written      (default: bench/results/engine-latest.md)
#   BENCH_STRICT    1 = exit 1 when a target is missed                        (default: 0)
#   PG_BIN          PostgreSQL's binaries, for scripts/pg-test-cluster
#                                                            (default: /usr/lib/postgresql/15/bin)
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
wide_conns=64      # the second single-event load, and one node's peer of the two-node cells
node_conns=32      # per node (and per wrk) in the two-node cells: 2 x 32 = 64
batch_conns=(4 16)
routing_key=bench-routing-key-000000000000001

require_positive duration runs threads
require_tools wrk curl awk timeout

# BENCH_STORES: which stores, in the order sqlite, postgres whatever the order given.
stores=${BENCH_STORES:-sqlite postgres}
use_sqlite=0
use_postgres=0
for s in $stores; do
  case $s in
    sqlite) use_sqlite=1 ;;
    postgres) use_postgres=1 ;;
    *) die "BENCH_STORES takes sqlite and/or postgres, got '$s'" ;;
  esac
done
((use_sqlite + use_postgres > 0)) || die "BENCH_STORES names no store"
store_list=()
((use_sqlite == 0)) || store_list+=(sqlite)
((use_postgres == 0)) || store_list+=(postgres)

# Alertmanager is the peer of the SQLite figures: it runs only when SQLite is measured.
alertmanager=""
if ((use_sqlite)); then
  alertmanager=$(command -v prometheus-alertmanager || command -v alertmanager || true)
  [[ -n $alertmanager ]] || die "prometheus-alertmanager not found (run: make deps)"
fi
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
if ((use_postgres)); then
  require_tools psql
  [[ -x $pg_bin/postgres ]] ||
    die "$pg_bin/postgres not found: install PostgreSQL 15 (make deps) or set PG_BIN"
fi

bin="$build_dir/opsorch"
require_binaries "$build_dir" "$bin"

# --- set-up ----------------------------------------------------------------------------------

bench_setup
drop_opsorch_env
# Every cell runs the same binary, even if a build replaces $bin during the run.
run_bin="$tmp/opsorch"
cp "$bin" "$run_bin"
bin_built=$(built_at "$bin")
tree_at=$(tree_commit)

# The PostgreSQL cluster: under $tmp, started now, stopped on exit after the servers on it (and
# before lib.sh's cleanup removes $tmp).
admin_url=""
trap cleanup_with_cluster EXIT
if ((use_postgres)); then
  chmod 711 "$tmp"  # the cluster runs as `postgres`, which must reach its directory
  pg_dir="$tmp/pg"
  admin_url=$(PG_BIN=$pg_bin scripts/pg-test-cluster start "$pg_dir") ||
    die "could not start a PostgreSQL cluster (see $pg_dir/log)"
  pg_version=$("$pg_bin/postgres" --version 2>/dev/null | awk '{ print $3 }' || echo '?')
  log "PostgreSQL $pg_version cluster at $admin_url"
fi
pg_admin() { psql -qAtX -v ON_ERROR_STOP=1 "$admin_url" -c "$1"; }

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

# write_lua FILE KIND MODE PER_REQUEST [PREFIX]: the wrk script of one kind of load.
#   KIND: pd (one Events v2 event per POST), batch (a JSON array of PER_REQUEST events),
#         am (a JSON array of one Alertmanager alert)
#   MODE: cycle (each wrk thread cycles over $keys keys) or unique (every event a new key)
#   PREFIX: put before every key (two wrk processes with different prefixes share no key)
# Every response's status is counted, and in batch answers every event that was not stored;
# done() prints the totals after wrk's own summary ("engine-bench …" lines).
write_lua() {
  cat >"$1" <<EOF
local kind, mode, per_request, keys = "$2", "$3", $4, $keys
local routing_key, prefix = "$routing_key", "${5:-}"
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
-- event i has the key "<prefix>t<thread>-k<i mod keys>" (cycle) or "<prefix>t<thread>-k<i>"
-- (unique).
local function build(n)
  local parts = {}
  for j = 0, per_request - 1 do
    local i = n * per_request + j
    if mode == "cycle" then i = i % keys end
    parts[#parts + 1] = event(prefix .. "t" .. tid .. "-k" .. i)
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
write_lua "$tmp/lua/batch-unique.lua" batch unique "$batch"
# The two-node cells: one wrk per node, keys of their own (n1-…, n2-…) or the same for both.
write_lua "$tmp/lua/pd-cycle-n1.lua" pd cycle 1 n1-
write_lua "$tmp/lua/pd-cycle-n2.lua" pd cycle 1 n2-

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

# start_opsorch DIR [STORE_URL]: log DIR/opsorch.log, data directory DIR/data, which holds the
# store (SQLite) unless STORE_URL (postgres://…) names another; sets srv_port and srv_pid.
start_opsorch() {
  local store_env=()
  [[ -z ${2:-} ]] || store_env=(OPSORCH_ENGINE_STORE="$2")
  mkdir -p "$1"
  launch opsorch "$1/opsorch.log" env OPSORCH_ADDR="127.0.0.1:@PORT@" \
    OPSORCH_INCIDENT_PROVIDER=local OPSORCH_ENGINE_SEED="$tmp/seed.json" "${store_env[@]}" \
    OPSORCH_DATA_DIR="$1/data" OPSORCH_HTTP_THREADS="$threads" "$run_bin" serve
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

# The loads measured on each store (the rows of the SQLite-and-PostgreSQL table): connections,
# path, wrk script, events per request, label.
loads=(cyc16 cyc64 uni16 bcyc4 buni4 bcyc16)
declare -A l_conns=([cyc16]=$single_conns [cyc64]=$wide_conns [uni16]=$single_conns
  [bcyc4]=${batch_conns[0]} [buni4]=${batch_conns[0]} [bcyc16]=${batch_conns[1]})
declare -A l_path=([cyc16]=/v2/enqueue [cyc64]=/v2/enqueue [uni16]=/v2/enqueue
  [bcyc4]=/v2/enqueue/batch [buni4]=/v2/enqueue/batch [bcyc16]=/v2/enqueue/batch)
declare -A l_lua=([cyc16]=pd-cycle [cyc64]=pd-cycle [uni16]=pd-unique [bcyc4]=batch-cycle
  [buni4]=batch-unique [bcyc16]=batch-cycle)
declare -A l_per=([cyc16]=1 [cyc64]=1 [uni16]=1 [bcyc4]=$batch [buni4]=$batch [bcyc16]=$batch)
declare -A l_label=([cyc16]="single events, cycling keys, $single_conns connections"
  [cyc64]="single events, cycling keys, $wide_conns connections"
  [uni16]="single events, unique keys, $single_conns connections"
  [bcyc4]="batches of $batch, cycling keys, ${batch_conns[0]} connections"
  [buni4]="batches of $batch, unique keys, ${batch_conns[0]} connections"
  [bcyc16]="batches of $batch, cycling keys, ${batch_conns[1]} connections")
declare -A store_name=([sqlite]=SQLite [postgres]=PostgreSQL)

# The cells, in the order they run within a run: each load on SQLite and PostgreSQL back to back
# (then Alertmanager's peer of single events), the two-node cells right after one node at 64
# connections. A cell is "STORE:LOAD", "am:LOAD" (Alertmanager) or "pg2:KEYS" (two nodes).
cells=()
declare -A c_server c_store c_nodes c_conns c_path c_lua c_lua2 c_label
add_cell() {  # add_cell KEY SERVER STORE NODES CONNS PATH LUA LUA2 LABEL
  cells+=("$1")
  c_server[$1]=$2 c_store[$1]=$3 c_nodes[$1]=$4 c_conns[$1]=$5 c_path[$1]=$6 c_lua[$1]=$7
  c_lua2[$1]=$8 c_label[$1]=$9
}
for l in "${loads[@]}"; do
  for s in "${store_list[@]}"; do
    add_cell "$s:$l" opsorch "$s" 1 "${l_conns[$l]}" "${l_path[$l]}" "${l_lua[$l]}" "" \
      "${store_name[$s]}, ${l_label[$l]}"
  done
  if ((use_sqlite)); then
    case $l in
      cyc16) add_cell am:cyc16 alertmanager none 1 "$single_conns" /api/v2/alerts am-cycle "" \
        "Alertmanager, cycling labels, $single_conns connections" ;;
      uni16) add_cell am:uni16 alertmanager none 1 "$single_conns" /api/v2/alerts am-unique "" \
        "Alertmanager, unique labels, $single_conns connections" ;;
    esac
  fi
  if ((use_postgres)) && [[ $l == cyc64 ]]; then
    add_cell pg2:disjoint opsorch postgres 2 "$node_conns" /v2/enqueue pd-cycle-n1 pd-cycle-n2 \
      "PostgreSQL, two nodes, disjoint keys, 2 x $node_conns connections"
    add_cell pg2:same opsorch postgres 2 "$node_conns" /v2/enqueue pd-cycle pd-cycle \
      "PostgreSQL, two nodes, the same keys, 2 x $node_conns connections"
  fi
done

# finish_node LABEL SERVER LOGFILE PORT PID WRK_OUT NON2XX SOCKET_ERRORS: after a measurement,
# what the server and wrk counted; then stops the server. Sets node_fact (for the report) and
# node_bad (1 if anything was not a success) and node_statuses (wrk's count of responses by
# status) and adds what went wrong to `problems`.
finish_node() {
  local label=$1 server=$2 logfile=$3 port=$4 pid=$5 wout=$6 v_bad=$7 v_err=$8
  local metrics statuses item_errors responses actions received held excerpt
  metrics="$(dirname "$logfile")/metrics"
  check_alive "$pid" "$server" "$logfile"
  statuses=$(sed -n 's/^engine-bench statuses: //p' "$wout")
  item_errors=$(sed -n 's/^engine-bench item errors: //p' "$wout")
  responses=$(awk '/requests in/ { print $1; exit }' "$wout")

  # What the server counted, sanity checks included.
  curl -fsS --max-time 10 -o "$metrics" "http://127.0.0.1:$port/metrics" ||
    die "$server: GET /metrics failed"
  node_fact="wrk saw $responses responses ($statuses); "
  if [[ $server == opsorch ]]; then
    actions=$(metric_by "$metrics" opsorch_engine_events_total action)
    node_fact+="stored events by action: $actions"
  else
    received=$(metric_by "$metrics" alertmanager_alerts_received_total status)
    # Held in memory, whatever the state (they stay "unprocessed" until group_wait, 30 s).
    held=$(awk 'index($1, "alertmanager_alerts{") == 1 { n += $2 } END { print n + 0 }' \
      "$metrics")
    node_fact+="alerts received: $received; alerts held: $held"
  fi
  stop "$pid"
  untrack "$pid"
  node_bad=0
  if [[ $server == opsorch ]]; then
    # stop sends TERM and, 5 s later, KILL: the engine commits what is queued before it exits.
    grep -q 'opsorch stopped' "$logfile" ||
      problems+=("$label: opsorch did not stop within 5 s of SIGTERM (killed)")
    [[ $actions != none ]] || {
      problems+=("$label: no events counted")
      node_bad=1
    }
    [[ $actions != *failed=* ]] || {
      problems+=("$label: events the engine failed to store: $actions")
      node_bad=1
    }
  fi
  node_fact+="; log: $(log_fact "$logfile")"

  # Everything that was not a success, with the log lines that say why.
  ((v_bad == 0)) || {
    problems+=("$label: $v_bad non-2xx responses (statuses: $statuses)")
    node_bad=1
  }
  ((v_err == 0)) || {
    # Which kind (a timeout is a request without an answer within wrk's 2 s).
    problems+=("$label: $v_err socket errors ($(sed -n 's/^ *Socket errors: //p' "$wout"))")
    node_bad=1
  }
  ((${item_errors:-0} == 0)) || {
    problems+=("$label: $item_errors events answered with an error inside 202s")
    node_bad=1
  }
  if ((node_bad)) || grep -qiE 'error|warn|fail' "$logfile"; then
    excerpt=$(grep -iE -m 5 -B 2 -A 2 'error|warn|fail|throttl' "$logfile" | cut -c 1-300 || true)
    [[ -z $excerpt ]] || problems+=("$label: log lines: \`${excerpt//$'\n'/\` / \`}\`")
  fi
  node_statuses=$statuses
}

# wrk_in DIR PORT PATH CONNS SECONDS: run_wrk with DIR as its $tmp (DIR/post.lua, DIR/wrk.out),
# so that two can run at once.
wrk_in() {
  local tmp=$1
  shift
  run_wrk "$@"
}

# store_fact STORE DIR DB_URL: the store's size and rows after its servers stopped.
store_fact() {
  local rows
  if [[ $1 == sqlite ]]; then
    # After a clean stop SQLite has checkpointed the WAL into opsorch.db.
    echo -n "store after stop: $(du -sh "$2/data" | cut -f1)"
    # Rows, if the sqlite3 shell is there (it is not a dependency).
    if command -v sqlite3 >/dev/null && [[ -f $2/data/opsorch.db ]]; then
      rows=$(sqlite3 -readonly "$2/data/opsorch.db" \
        'select count(*) from incidents; select count(*) from alerts;' 2>&1 | paste -sd ' ')
      echo -n " (incidents alerts: $rows)"
    fi
  else
    rows=$(psql -qAtX "$3" -c 'select pg_size_pretty(pg_database_size(current_database()))' \
      -c 'select count(*) from incidents' -c 'select count(*) from alerts' 2>&1 |
      paste -sd ' ') || true
    echo -n "database after stop (size, incidents, alerts): $rows"
  fi
}

declare -A rps p50 raw counted
declare -A cell_err=()  # cells with a run that had errors
declare -A rps1 rps2 p50_1 p50_2  # the two-node cells, per node
total=0
for k in "${cells[@]}"; do total=$((total + runs * (duration + 3))); done
bench_start
log "${#cells[@]} cells x $runs runs of ${duration}s, a fresh server each; about ${total}s"

cell_no=0
for ((r = 1; r <= runs; r++)); do
  # Interleaved so that a slow phase of the machine hits every store and server alike.
  for k in "${cells[@]}"; do
    cell_no=$((cell_no + 1))
    dir="$tmp/cell$cell_no"
    mkdir -p "$dir"
    server=${c_server[$k]}
    store=${c_store[$k]}
    label="${c_label[$k]} run $r"
    db_url=""
    if [[ $store == postgres ]]; then
      db="bench_$cell_no"
      pg_admin "CREATE DATABASE $db" >/dev/null
      db_url="${admin_url%/*}/$db"
    fi
    cell_bad=0

    if [[ ${c_nodes[$k]} == 1 ]]; then
      if [[ $server == opsorch ]]; then
        start_opsorch "$dir" "$db_url"
      else
        start_alertmanager "$dir"
      fi
      cp "$tmp/lua/${c_lua[$k]}.lua" "$tmp/post.lua"
      read -r v_rps v_p50 v_bad v_err < <(run_wrk "$srv_port" "${c_path[$k]}" "${c_conns[$k]}" \
        "$duration")
      cp "$tmp/wrk.out" "$dir/wrk.out"
      finish_node "$label" "$server" "$dir/$server.log" "$srv_port" "$srv_pid" "$dir/wrk.out" \
        "$v_bad" "$v_err"
      fact=$node_fact
      cell_bad=$node_bad
      shown="$v_rps req/s, p50 ${v_p50} us${node_statuses:+ ($node_statuses)}"
    else
      # Two nodes on one database, started one after the other (each applies the seed), then
      # one wrk per node, both at once.
      start_opsorch "$dir/n1" "$db_url"
      port1=$srv_port pid1=$srv_pid
      start_opsorch "$dir/n2" "$db_url"
      port2=$srv_port pid2=$srv_pid
      cp "$tmp/lua/${c_lua[$k]}.lua" "$dir/n1/post.lua"
      cp "$tmp/lua/${c_lua2[$k]}.lua" "$dir/n2/post.lua"
      wrk_in "$dir/n1" "$port1" "${c_path[$k]}" "${c_conns[$k]}" "$duration" \
        >"$dir/n1/wrk.result" &
      w1=$!
      wrk_in "$dir/n2" "$port2" "${c_path[$k]}" "${c_conns[$k]}" "$duration" \
        >"$dir/n2/wrk.result" &
      w2=$!
      wait "$w1" || die "the wrk of node 1 failed ($label)"
      wait "$w2" || die "the wrk of node 2 failed ($label)"
      read -r a_rps a_p50 a_bad a_err <"$dir/n1/wrk.result"
      read -r b_rps b_p50 b_bad b_err <"$dir/n2/wrk.result"
      finish_node "$label, node 1" opsorch "$dir/n1/opsorch.log" "$port1" "$pid1" \
        "$dir/n1/wrk.out" "$a_bad" "$a_err"
      fact="node 1: $node_fact"
      cell_bad=$node_bad
      finish_node "$label, node 2" opsorch "$dir/n2/opsorch.log" "$port2" "$pid2" \
        "$dir/n2/wrk.out" "$b_bad" "$b_err"
      fact+="; node 2: $node_fact"
      ((node_bad == 0)) || cell_bad=1
      v_rps=$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN { printf "%.2f", a + b }')
      # The cell's p50: the slower node's (each node's is listed below).
      v_p50=$(awk -v a="$a_p50" -v b="$b_p50" 'BEGIN { print (a > b ? a : b) }')
      rps1[$k]+="$a_rps "
      rps2[$k]+="$b_rps "
      p50_1[$k]+="$a_p50 "
      p50_2[$k]+="$b_p50 "
      shown="$v_rps req/s combined ($a_rps + $b_rps), p50 $a_p50 / $b_p50 us"
    fi

    if [[ $server == opsorch ]]; then
      if [[ $store == sqlite ]]; then
        fact+="; $(store_fact sqlite "$dir")"
      else
        fact+="; $(store_fact postgres "$dir" "$db_url")"
        # Nothing of this measurement is left for the next one to write back.
        pg_admin "DROP DATABASE $db WITH (FORCE)" >/dev/null
        pg_admin "CHECKPOINT" >/dev/null
      fi
    fi

    ((cell_bad == 0)) || cell_err[$k]=1
    rps[$k]+="$v_rps "
    p50[$k]+="$v_p50 "
    raw[$k]+="$(printf '%.0f/%.1f' "$v_rps" "$v_p50")$( ((cell_bad == 0)) || echo ' (errors)') "
    counted[$k $r]="- $label: $fact"
    log "$label: $shown$( ((cell_bad == 0)) || echo ' (errors: see the warnings)')"
  done
done

sync_after=$(sync_probe)

# --- report ----------------------------------------------------------------------------------

declare -A m_rps m_p50
for k in "${cells[@]}"; do
  m_rps[$k]=$(median <<<"${rps[$k]}")
  m_p50[$k]=$(median <<<"${p50[$k]}")
done

has() { [[ -n ${m_rps[$1]+x} ]]; }  # has CELL: the cell was measured
mark() { [[ -z ${cell_err[$1]+x} ]] || echo -n " ⚠"; }  # mark CELL: " ⚠" if a run had errors
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }'; }
# paired LOAD: each run's PostgreSQL figure over the SQLite figure measured just before it
# (adjacent cells of one run), space-separated. The machine's speed drifts over minutes (the
# same work takes up to 1.6× the CPU time in a slow phase, for both stores alike): a ratio of
# medians can pair a fast phase's SQLite with a slow phase's PostgreSQL; a run's pair shares
# its phase.
paired() {
  local -a a b
  read -r -a a <<<"${rps[postgres:$1]:-}"
  read -r -a b <<<"${rps[sqlite:$1]:-}"
  local i out=""
  for ((i = 0; i < ${#a[@]} && i < ${#b[@]}; i++)); do
    out+="$(awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { printf "%.3f", (y > 0 ? x / y : 0) }') "
  done
  echo "$out"
}

missed=0
{
  echo "# opsorch incident engine: durable ingest"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/engine.sh\`" \
    "(BENCH_STORES=\"${store_list[*]}\" BENCH_DURATION=$duration BENCH_RUNS=$runs" \
    "BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $tree_at, \`$bin\` built $bin_built (copied at the start: one" \
    "binary for every cell)," \
    "\`OPSORCH_INCIDENT_PROVIDER=local\`, $threads HTTP threads, default logging to a file," \
    "a fresh store per measurement; the disk under the stores is $store_fs (a 4 KiB O_DSYNC" \
    "append there, mean of 200 by dd: $sync_before before the measurements, $sync_after after)"
  if ((use_sqlite)); then
    echo "- SQLite store: WAL, group commit, answered after an fdatasync of the WAL, in a fresh" \
      "data directory per measurement"
  fi
  if ((use_postgres)); then
    echo "- PostgreSQL store: PostgreSQL $pg_version, a private cluster of" \
      "\`scripts/pg-test-cluster\` (its defaults: fsync on, synchronous_commit on," \
      "shared_buffers 64MB; loopback TCP; data directory on the same disk) started by this run," \
      "\`OPSORCH_ENGINE_STORE=postgres://…/bench_N\`: a new database per measurement, dropped" \
      "after it and followed by a CHECKPOINT; group commit, answered after the commit"
  fi
  if ((use_sqlite)); then
    echo "- $("$alertmanager" --version 2>&1 | head -n 1 | sed 's/ (.*//'):" \
      "\`--cluster.listen-address=\` (no cluster), fresh \`--storage.path\` per measurement," \
      "one route to a receiver without notifiers; it keeps alerts in memory" \
      "(no write per request), opsorch answers 202 only after the store's commit; it is the" \
      "peer of the SQLite figures and runs once per run"
  fi
  echo "- $(wrk_version); machine: $(machine_fact)"
  echo "- each cell: median of $runs runs of ${duration}s, each against servers started for" \
    "it (sanity requests first: opsorch 3 events, Alertmanager 1 alert), runs interleaved" \
    "(within a run each load on SQLite, then PostgreSQL, then Alertmanager); no warm-up"
  echo "- load: one trigger per request at $single_conns or $wide_conns connections" \
    "(\`wrk -t2\`); cycling = each wrk thread cycles over $keys dedup keys (Alertmanager:" \
    "values of a \`key\` label), so after the first pass nearly every event is a" \
    "deduplication; unique = every event has a new key (opsorch: every event opens an" \
    "incident). Batches: $batch triggers per \`POST /v2/enqueue/batch\`, keys cycling or" \
    "unique as above"
  if ((use_postgres)); then
    echo "- two nodes: two \`opsorch serve\` on one fresh PostgreSQL database (same seed, ports" \
      "of their own, started one after the other), one \`wrk -t2 -c$node_conns\` per node, both" \
      "at once; cycling keys, either with prefixes of their own per node (n1-…, n2-…: no key" \
      "in common, $((4 * keys)) keys in all, twice one node's $((2 * keys)), so twice the new" \
      "incidents in the first pass) or the same $((2 * keys)) keys on both nodes (they take" \
      "turns on each key's advisory lock); combined = the sum of both wrk's req/s; servers," \
      "wrk and PostgreSQL share the machine's $(nproc) cores"
  fi
  echo
  echo "## SQLite and PostgreSQL"
  echo
  echo "Throughput (single events: requests/s, one event each; batches: events/s = requests/s" \
    "× $batch), median of $runs runs:"
  echo
  echo "| measurement | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |"
  echo "|---|---|---|---|"
  for l in "${loads[@]}"; do
    sq="not run" pg="not run" rt="—" sv="" pv=""
    if has "sqlite:$l"; then
      sv=$(awk -v v="${m_rps[sqlite:$l]}" -v n="${l_per[$l]}" 'BEGIN { printf "%.0f", v * n }')
      sq="$sv$(mark "sqlite:$l")"
    fi
    if has "postgres:$l"; then
      pv=$(awk -v v="${m_rps[postgres:$l]}" -v n="${l_per[$l]}" 'BEGIN { printf "%.0f", v * n }')
      pg="$pv$(mark "postgres:$l")"
    fi
    [[ -z $sv || -z $pv ]] || rt=$(ratio "$pv" "$sv")
    echo "| ${l_label[$l]} | $sq | $pg | $rt |"
  done
  if ((use_sqlite && use_postgres)); then
    echo
    echo "The targets (docs/BENCHMARKS.md, \"Incident engine ingest\"): PostgreSQL ≥ 0.5×" \
      "SQLite, run by run (each PostgreSQL run over the SQLite run just before it; the" \
      "target is met when the median of these ratios is):"
    echo
    echo "| measurement | PostgreSQL ÷ SQLite, run by run | median | ratio of the medians |" \
      "target | met? |"
    echo "|---|---|---|---|---|---|"
    for l in cyc64 bcyc4 buni4; do
      has "sqlite:$l" && has "postgres:$l" || continue
      pr=$(paired "$l")
      [[ -n ${pr// /} ]] || continue
      pm=$(median <<<"$pr")
      met=$(awk -v m="$pm" 'BEGIN { print (m >= 0.5 ? "yes" : "**no**") }')
      [[ $met == yes ]] || missed=$((missed + 1))
      echo "| ${l_label[$l]} | $(for v in $pr; do fmt "$v" "%.2f× "; done)" \
        "| $(fmt "$pm" "%.2f×") | $(ratio "${m_rps[postgres:$l]}" "${m_rps[sqlite:$l]}")" \
        "| ≥ 0.50× | $met |"
    done
  fi
  echo
  echo "p50 latency in ms, median of $runs runs:"
  echo
  echo "| measurement | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |"
  echo "|---|---|---|---|"
  for l in "${loads[@]}"; do
    sq="not run" pg="not run" rt="—" sv="" pv=""
    if has "sqlite:$l"; then
      sv=${m_p50[sqlite:$l]}
      sq="$(awk -v v="$sv" 'BEGIN { printf "%.2f", v / 1000 }')$(mark "sqlite:$l")"
    fi
    if has "postgres:$l"; then
      pv=${m_p50[postgres:$l]}
      pg="$(awk -v v="$pv" 'BEGIN { printf "%.2f", v / 1000 }')$(mark "postgres:$l")"
    fi
    [[ -z $sv || -z $pv ]] || rt=$(ratio "$pv" "$sv")
    echo "| ${l_label[$l]} | $sq | $pg | $rt |"
  done
  if ((use_postgres)); then
    echo
    echo "## Two opsorch nodes on one PostgreSQL database"
    echo
    echo "Single events, cycling keys; one node at $wide_conns connections against two nodes at" \
      "$node_conns connections each, driven at the same time (req/s and p50 are medians of" \
      "$runs runs; combined = the median of the runs' sums):"
    echo
    echo "| keys | one node, $wide_conns connections, req/s | two nodes combined, req/s |" \
      "two nodes ÷ one node | node 1 req/s | node 2 req/s | p50 ms one node |" \
      "p50 ms node 1 / node 2 |"
    echo "|---|---|---|---|---|---|---|---|"
    one=${m_rps[postgres:cyc64]}
    declare -A keys_label=([disjoint]="disjoint (n1-…, n2-…)" [same]="the same on both nodes")
    for v in disjoint same; do
      k=pg2:$v
      echo "| ${keys_label[$v]}" \
        "| $(fmt "$one" "%.0f")$(mark postgres:cyc64)" \
        "| $(fmt "${m_rps[$k]}" "%.0f")$(mark "$k") | $(ratio "${m_rps[$k]}" "$one")" \
        "| $(median <<<"${rps1[$k]}" | awk '{ printf "%.0f", $1 }')" \
        "| $(median <<<"${rps2[$k]}" | awk '{ printf "%.0f", $1 }')" \
        "| $(awk -v v="${m_p50[postgres:cyc64]}" 'BEGIN { printf "%.2f", v / 1000 }')" \
        "| $(median <<<"${p50_1[$k]}" | awk '{ printf "%.2f", $1 / 1000 }') /" \
        "$(median <<<"${p50_2[$k]}" | awk '{ printf "%.2f", $1 / 1000 }') |"
    done
  fi
  if ((use_sqlite)); then
    echo
    echo "## Single events against Alertmanager (SQLite store)"
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
      o="sqlite:${mix}16" a="am:${mix}16"
      row=$(awk -v mix="$([[ $mix == cyc ]] && echo "cycling ($keys per thread)" || echo unique)" \
        -v or="${m_rps[$o]}" -v ar="${m_rps[$a]}" -v op="${m_p50[$o]}" -v om="$(mark "$o")" \
        -v ap="${m_p50[$a]}" -v am="$(mark "$a")" -v target="$target" "BEGIN {
          ratio = ar > 0 ? or / ar : 0
          met = target == \"—\" ? \"—\" : ($check) ? \"yes\" : \"**no**\"
          printf \"| %s | %.0f%s | %.0f%s | %.2f | %.1f | %.1f | %s | %s |\n\",
                 mix, or, om, ar, am, ratio, op, ap, target, met }")
      [[ $row != *'**no**'* ]] || missed=$((missed + 1))
      echo "$row"
    done
    echo
    echo "## Batches of $batch events (SQLite store)"
    echo
    echo "| connections | req/s | events/s | p50 ms | target | met? |"
    echo "|---|---|---|---|---|---|"
    for k in sqlite:bcyc4 sqlite:bcyc16; do
      row=$(awk -v c="${c_conns[$k]}" -v r="${m_rps[$k]}" -v per="$batch" -v p="${m_p50[$k]}" \
        -v m="$(mark "$k")" '
        BEGIN {
          ev = r * per
          printf "| %d | %.1f | %.0f%s | %.1f | ≥ 100000 events/s | %s |\n",
                 c, r, ev, m, p / 1000, (ev >= 100000 ? "yes" : "**no**") }')
      [[ $row != *'**no**'* ]] || missed=$((missed + 1))
      echo "$row"
    done
  fi
  if ((${#cell_err[@]})); then
    echo
    echo "⚠: at least one run of that cell had errors (non-2xx responses, socket errors, events" \
      "answered with an error or failed by the engine): see the warnings below."
  fi
  echo
  echo "Per-run values (req/s / p50 µs; two nodes: combined req/s / the slower node's p50), in" \
    "run order:"
  echo
  for k in "${cells[@]}"; do
    echo "- ${c_label[$k]}: ${raw[$k]% }"
  done
  echo
  echo "Counted over each measurement (sanity requests included): statuses from wrk," \
    "events from \`opsorch_engine_events_total\` and Alertmanager's \`/metrics\`, store size" \
    "and rows after the servers stopped:"
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
