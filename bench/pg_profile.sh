#!/usr/bin/env bash
# Where an ingested event's time goes on PostgreSQL (the first step of the fast PostgreSQL path,
# docs/BENCHMARKS.md "PostgreSQL: where an event's time goes"): a private PostgreSQL 15 cluster
# (scripts/pg-test-cluster, fsync on) with pg_stat_statements, one `opsorch serve` on it, and wrk
# sending single PagerDuty Events v2 events (16 connections, BENCH_DURATION seconds) in two key
# mixes: `cycle` (each connection cycles over 1,000 keys: deduplicated into open incidents, the
# common case) and `unique` (every event a new incident), and `batch`: batches of 500 events on
# POST /v2/enqueue/batch from 4 connections, keys cycling as in `cycle`. Per mix it reports
# events/s, the statements and transactions per event (pg_stat_statements, pg_stat_database),
# the server's execution time per event, the CPU time per event of the PostgreSQL sessions and
# of the opsorch process (from /proc: user + system, whatever they did), and WAL bytes per event
# (pg_stat_wal), plus the statements that cost the most; then the same loads on the SQLite store
# with its CPU time per event.
#
# Usage: bench/pg_profile.sh        (or: make bench-pg-profile)
#
# Environment (all optional): BUILD (build), BENCH_DURATION (10), BENCH_CONNECTIONS (16),
# BENCH_OUT (bench/results/pg-profile-latest.md).
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-10}
connections=${BENCH_CONNECTIONS:-16}
strict=0
resolve_out bench/results/pg-profile-latest.md
build_dir=${BUILD:-build}
require_positive duration connections
require_tools wrk curl awk psql
bin="$build_dir/opsorch"
require_binaries "$build_dir" "$bin"
bench_setup
drop_opsorch_env
bench_start

# Beside the build (the cluster runs as postgres, which cannot enter $tmp).
cluster="$build_dir/pg-profile"
admin_url=$(scripts/pg-test-cluster start "$cluster")
stop_cluster() { scripts/pg-test-cluster stop "$cluster" >/dev/null 2>&1 || true; }
trap 'stop_cluster; cleanup' EXIT
# pg_stat_statements needs a restart to load.
runuser -u postgres -- bash -c "cat >> '$cluster/data/postgresql.conf'" <<'EOF'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
EOF
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl restart -D "$cluster/data" -m fast -w \
  >/dev/null
psql -q "$admin_url" -c "CREATE DATABASE bench" >/dev/null
db_url="${admin_url%/*}/bench"
psql -q "$db_url" -c "CREATE EXTENSION pg_stat_statements" >/dev/null

routing_key=bench-routing-key-000000000000001
cat >"$tmp/seed.json" <<EOF
{"services": [{"id": "svc-bench", "name": "Bench",
  "integrations": [{"id": "bench-events", "kind": "events_v2", "key": "$routing_key"}]}]}
EOF

write_lua() {  # write_lua FILE MODE PREFIX (keys of different runs never meet)
  cat >"$1" <<EOF
local mode, routing_key, prefix, per_batch = "$2", "$routing_key", "$3", $batch
EOF
  cat >>"$1" <<'EOF'
-- `tid` is a global of each thread's own state (set by setup in the main state).
local counter, made = 0, 0
local threads = {}
function setup(thread) made = made + 1; thread:set("tid", made); table.insert(threads, thread) end
function init() codes, item_errors = {}, 0 end
local function event(k)
  return '{"routing_key":"' .. routing_key .. '","event_action":"trigger","dedup_key":"' ..
    prefix .. "t" .. tid .. "-k" .. k .. '","payload":{"summary":"Bench ' .. k ..
    '","source":"bench-host","severity":"critical"}}'
end
local headers = {["Content-Type"] = "application/json"}
function request()
  if mode == "batch" then
    local parts = {}
    for j = 1, per_batch do
      counter = counter + 1
      parts[j] = event(counter % 1000)
    end
    return wrk.format("POST", "/v2/enqueue/batch", headers, "[" .. table.concat(parts, ",") .. "]")
  end
  counter = counter + 1
  local k = mode == "cycle" and (counter % 1000) or counter
  return wrk.format("POST", "/v2/enqueue", headers, event(k))
end
function response(status, hdrs, body)
  codes[status] = (codes[status] or 0) + 1
  if mode == "batch" and body:find('"status":"error"', 1, true) then item_errors = item_errors + 1 end
end
function done()
  local total, errors = {}, 0
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("codes")) do total[s] = (total[s] or 0) + n end
    errors = errors + t:get("item_errors")
  end
  for s, n in pairs(total) do io.write(string.format("pg-profile status %d %d\n", s, n)) end
  io.write(string.format("pg-profile item-errors %d\n", errors))
end
EOF
}

q() { psql -qAt "$db_url" -c "$1"; }

batch=500
# mix_conns MODE / mix_events MODE OK: a batch run uses 4 connections and counts 500 events per
# answered request (a request with an item refused fails the run).
mix_conns() { if [[ $1 == batch ]]; then echo 4; else echo "$connections"; fi; }
mix_events() { if [[ $1 == batch ]]; then echo $(($2 * batch)); else echo "$2"; fi; }
item_errors() { awk '$1 == "pg-profile" && $2 == "item-errors" { print $3 }' "$1"; }
# CPU time (user + system, clock ticks) of the processes given, summed; a process gone counts 0.
ticks() {
  local sum=0 p t
  for p in "$@"; do
    t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || t=0
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
hz=$(getconf CLK_TCK)
# The PostgreSQL sessions of the bench database (the node's writer, sync session and pool).
pg_pids() { q "SELECT pid FROM pg_stat_activity WHERE datname = 'bench' AND pid <> pg_backend_pid()"; }

report_rows=()
top_rows=()
for mode in cycle unique batch; do
  conns=$(mix_conns "$mode")
  port=$(free_port 28580)
  OPSORCH_ADDR=127.0.0.1:$port OPSORCH_DATA_DIR="$tmp/data-$mode" OPSORCH_INCIDENT_PROVIDER=local \
    OPSORCH_ENGINE_STORE="$db_url" OPSORCH_ENGINE_SEED="$tmp/seed.json" \
    "$bin" serve >"$tmp/serve-$mode.log" 2>&1 &
  pid=$!
  bench_track "$pid"
  wait_http "http://127.0.0.1:$port/health" "$pid" opsorch "$tmp/serve-$mode.log"
  write_lua "$tmp/$mode-warm.lua" "$mode" warm-
  write_lua "$tmp/$mode.lua" "$mode" ""
  # Warm-up (connections, the store's caches) on keys of its own, then the measured run.
  wrk -t2 -c"$conns" -d2s -s "$tmp/$mode-warm.lua" "http://127.0.0.1:$port" >/dev/null
  q "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal'); SELECT pg_stat_reset();" \
    >/dev/null
  mapfile -t sessions < <(pg_pids)
  cpu_pg=$(ticks "${sessions[@]}")
  cpu_op=$(ticks "$pid")
  wrk -t2 -c"$conns" -d"${duration}s" -s "$tmp/$mode.lua" "http://127.0.0.1:$port" \
    >"$tmp/wrk-$mode.txt"
  cpu_pg=$(($(ticks "${sessions[@]}") - cpu_pg))
  cpu_op=$(($(ticks "$pid") - cpu_op))
  check_alive "$pid" opsorch "$tmp/serve-$mode.log"
  ok=$(awk '$1 == "pg-profile" && $3 == 202 { print $4 }' "$tmp/wrk-$mode.txt")
  ok=${ok:-0}
  ((ok > 0)) || die "no 202 in the $mode run: $(cat "$tmp/wrk-$mode.txt")"
  (($(item_errors "$tmp/wrk-$mode.txt") == 0)) || die "events refused in the $mode run"
  ok=$(mix_events "$mode" "$ok")
  calls=$(q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'")
  exec_ms=$(q "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'")
  commits=$(q "SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'")
  wal=$(q "SELECT wal_bytes FROM pg_stat_wal")
  latency=$(awk '$1 == "Latency" { print $2 }' "$tmp/wrk-$mode.txt")
  report_rows+=("$(awk -v m="$mode" -v ok="$ok" -v d="$duration" -v c="$calls" -v e="$exec_ms" \
    -v x="$commits" -v w="$wal" -v l="$latency" -v cp="$cpu_pg" -v co="$cpu_op" -v hz="$hz" 'BEGIN {
      printf "| %s | %d | %.0f | %s | %.2f | %.3f | %.3f | %.1f | %.1f | %.0f |", m, ok, ok / d,
        l, c / ok, x / ok, e / ok, cp * 1e6 / hz / ok, co * 1e6 / hz / ok, w / ok }')")
  while IFS='|' read -r cnt per ms query; do
    top_rows+=("| $mode | $per | $ms | \`${query:0:110}\` |")
  done < <(psql -qAt -F'|' "$db_url" -c "SELECT calls, round(calls::numeric / $ok, 3),
      round((total_exec_time / $ok)::numeric, 4), regexp_replace(query, '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'
      ORDER BY total_exec_time DESC LIMIT 6")
  stop "$pid"
done

# The peer in the same run: the same loads on the SQLite store (a fresh file on $tmp's disk).
peer_rows=()
for mode in cycle unique batch; do
  conns=$(mix_conns "$mode")
  port=$(free_port 28580)
  OPSORCH_ADDR=127.0.0.1:$port OPSORCH_DATA_DIR="$tmp/sqlite-$mode" OPSORCH_INCIDENT_PROVIDER=local \
    OPSORCH_ENGINE_SEED="$tmp/seed.json" "$bin" serve >"$tmp/sqlite-$mode.log" 2>&1 &
  pid=$!
  bench_track "$pid"
  wait_http "http://127.0.0.1:$port/health" "$pid" opsorch "$tmp/sqlite-$mode.log"
  wrk -t2 -c"$conns" -d2s -s "$tmp/$mode-warm.lua" "http://127.0.0.1:$port" >/dev/null
  cpu_op=$(ticks "$pid")
  wrk -t2 -c"$conns" -d"${duration}s" -s "$tmp/$mode.lua" "http://127.0.0.1:$port" \
    >"$tmp/sqlite-wrk-$mode.txt"
  cpu_op=$(($(ticks "$pid") - cpu_op))
  check_alive "$pid" opsorch "$tmp/sqlite-$mode.log"
  ok=$(awk '$1 == "pg-profile" && $3 == 202 { print $4 }' "$tmp/sqlite-wrk-$mode.txt")
  ok=${ok:-0}
  ((ok > 0)) || die "no 202 in the SQLite $mode run"
  (($(item_errors "$tmp/sqlite-wrk-$mode.txt") == 0)) || die "events refused in the SQLite $mode run"
  ok=$(mix_events "$mode" "$ok")
  latency=$(awk '$1 == "Latency" { print $2 }' "$tmp/sqlite-wrk-$mode.txt")
  pg_rate=$(printf '%s\n' "${report_rows[@]}" | awk -F'|' -v m=" $mode " '$2 == m { print $4 }')
  peer_rows+=("$(awk -v m="$mode" -v ok="$ok" -v d="$duration" -v l="$latency" -v pg="$pg_rate" \
    -v co="$cpu_op" -v hz="$hz" 'BEGIN { printf "| %s | %d | %.0f | %s | %.1f | %.2f× |", m, ok,
      ok / d, l, co * 1e6 / hz / ok, pg / (ok / d) }')")
  stop "$pid"
done

{
  echo "### PostgreSQL: where an event's time goes ($(machine_fact))"
  echo
  echo "- commit $(tree_commit); \`opsorch serve\` on a private PostgreSQL 15 (fsync on,"
  echo "  defaults, pg_stat_statements); wrk, $connections connections (batch: 4), ${duration} s"
  echo "  per mix; single Events v2 events (batch: $batch per request). Server exec = pg_stat_statements'"
  echo "  execution time (parse, bind, plan and the round trip not included); CPU = user + system"
  echo "  time from /proc of the bench database's sessions and of the opsorch process."
  echo
  echo "| mix | events (202) | events/s | wrk mean latency | statements / event | transactions / event | server exec ms / event | PostgreSQL CPU µs / event | opsorch CPU µs / event | WAL bytes / event |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${report_rows[@]}"
  echo
  echo "The peer, the same loads on the SQLite store in the same run:"
  echo
  echo "| mix | events (202) | events/s | wrk mean latency | opsorch CPU µs / event | PostgreSQL ÷ SQLite (events/s) |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${peer_rows[@]}"
  echo
  echo "The costliest statements (per event: calls, server ms):"
  echo
  echo "| mix | calls / event | exec ms / event | statement |"
  echo "|---|---|---|---|"
  printf '%s\n' "${top_rows[@]}"
} >"$tmp/report.md"
publish_report 0
