#!/usr/bin/env bash
# Measures how long a workflow's breach takes to become an incident (docs/BENCHMARKS.md,
# "Runbooks and workflow incidents"): `opsorch serve` runs a workflow whose timer step emits, every
# BENCH_PERIOD_MS, a sample of a new series above its expectation's bound (`for` 0: each sample
# triggers); the runtime sends the Events v2 trigger to the server's own engine, which answers 202
# once the incident is durably stored. The runtime's histogram
# opsorch_workflow_incident_event_seconds (from the sample being judged to the 202) gives the
# distribution. Peer, in the same run: the same events POSTed to /v2/enqueue over HTTP, one at a
# time at the same rate, timed by the client.
#
# Usage: bench/breach.sh        (or: make bench-breach)
#
# Environment (all optional):
#   BUILD           build directory                          (default: build)
#   BENCH_DURATION  seconds of breaches                      (default: 20)
#   BENCH_PERIOD_MS the timer step's period                  (default: 20, i.e. 50 breaches/s)
#   BENCH_OUT       report file         (default: bench/results/breach-latest.md)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

duration=${BENCH_DURATION:-20}
period=${BENCH_PERIOD_MS:-20}
strict=${BENCH_STRICT:-0}
resolve_out bench/results/breach-latest.md
build_dir=${BUILD:-build}
require_positive duration period
require_tools curl awk python3
bin="$build_dir/opsorch"
require_binaries "$build_dir" "$bin" "$build_dir/opsorch-script-worker"
bench_setup
drop_opsorch_env
bench_start

key=bench-routing-key-000000000000001
cat > "$tmp/seed.json" <<EOF
{"services": [{"id": "svc-bench", "name": "Bench",
  "integrations": [{"id": "bench-events", "kind": "events_v2", "key": "$key"}]}]}
EOF
cat > "$tmp/workflow.json" <<EOF
{"workflows": [{"name": "w", "steps": [
  {"id": "breach", "trigger": {"timer": {"delay": "1s", "period": "${period}ms"}},
   "results": "ctx.metric('bench.load', 100, {tick = tostring(ctx.now())})"}]}],
 "expectations": [{"metric": "bench.load", "above": 50, "severity": "error",
                   "summary": "load {value} at {tick}"}]}
EOF
cat > "$tmp/bootstrap.json" <<EOF
{"deployments": [{"id": "bench", "config": {"file": "workflow.json"},
  "persistence_dir": "$tmp/state", "incidents": {"routing_key": "$key"}}]}
EOF

port=$(free_port 28480)
OPSORCH_ADDR=127.0.0.1:$port OPSORCH_DATA_DIR="$tmp/data" OPSORCH_INCIDENT_PROVIDER=local \
  OPSORCH_ENGINE_SEED="$tmp/seed.json" OPSORCH_WORKFLOW_BOOTSTRAP="$tmp/bootstrap.json" \
  "$bin" serve > "$tmp/serve.log" 2>&1 &
pid=$!
bench_track "$pid"
wait_http "http://127.0.0.1:$port/health" "$pid" opsorch "$tmp/serve.log"
log "breaches for ${duration}s, one per ${period} ms"
sleep "$duration"
check_alive "$pid" opsorch "$tmp/serve.log"
curl -fsS "http://127.0.0.1:$port/metrics" > "$tmp/metrics.txt"

# histogram_quantile over the cumulative buckets (linear within a bucket, as Prometheus does).
quantiles() {
  awk -v name=opsorch_workflow_incident_event_seconds '
    index($0, name "_bucket{deployment=\"bench\"") == 1 {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      n++; bound[n] = (le == "+Inf") ? 1e9 : le + 0; count[n] = $NF + 0
    }
    index($0, name "_sum{deployment=\"bench\"}") == 1 { sum = $NF }
    END {
      total = count[n]
      if (total == 0) { print "0 0 0 0 0"; exit }
      split("0.5 0.95 0.99", qs, " ")
      for (k = 1; k <= 3; k++) {
        rank = qs[k] * total; lo = 0; prev = 0
        for (i = 1; i <= n; i++) {
          if (count[i] >= rank) {
            width = bound[i] - lo; inb = count[i] - prev
            v[k] = (inb > 0) ? lo + width * (rank - prev) / inb : bound[i]; break
          }
          lo = bound[i]; prev = count[i]
        }
      }
      printf "%d %.2f %.2f %.2f %.2f\n", total, v[1] * 1000, v[2] * 1000, v[3] * 1000, sum / total * 1000
    }' "$tmp/metrics.txt"
}
read -r events p50 p95 p99 mean <<< "$(quantiles)"
incidents=$(curl -fsS "http://127.0.0.1:$port/incidents/query" -d '{"limit":1000}' |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

# The peer: the same trigger over HTTP, one at a time at the same rate, timed by the client.
log "peer: POST /v2/enqueue at the same rate"
read -r peer_n peer_p50 peer_p95 peer_p99 <<< "$(python3 - "$port" "$key" "$duration" "$period" <<'PY'
import http.client, json, sys, time
port, key, duration, period = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]) / 1000
c = http.client.HTTPConnection("127.0.0.1", port)
lat, n, end = [], 0, time.monotonic() + duration
while time.monotonic() < end:
    n += 1
    body = json.dumps({"routing_key": key, "event_action": "trigger", "dedup_key": "peer-%d" % n,
                       "payload": {"summary": "load 100", "source": "bench", "severity": "error"}})
    t0 = time.perf_counter()
    c.request("POST", "/v2/enqueue", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    if r.status != 202: sys.exit("peer: HTTP %d" % r.status)
    time.sleep(max(0.0, period - (time.perf_counter() - t0)))
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(len(lat), "%.2f" % q(0.5), "%.2f" % q(0.95), "%.2f" % q(0.99))
PY
)"
check_alive "$pid" opsorch "$tmp/serve.log"

missed=0
awk -v p="$p99" 'BEGIN { exit !(p > 20) }' && missed=1
{
  echo "### Workflow breach → incident 202 ($(machine_fact))"
  echo
  echo "- commit $(tree_commit); $duration s at one breach per $period ms; the engine on SQLite"
  echo "  (fsync on). Breach → 202 from the runtime's histogram (interpolated within buckets);"
  echo "  the peer is the same trigger POSTed to /v2/enqueue one at a time, timed by the client."
  echo
  echo "| path | events | p50 | p95 | p99 |"
  echo "|---|---|---|---|---|"
  echo "| workflow breach → in-process Events v2 → 202 | $events ($incidents incidents) | $p50 ms | $p95 ms | $p99 ms |"
  echo "| peer: POST /v2/enqueue over HTTP → 202 | $peer_n | $peer_p50 ms | $peer_p95 ms | $peer_p99 ms |"
  echo
  echo "Target: breach → 202 p99 ≤ 20 ms ($( ((missed)) && echo missed || echo met)). Mean ${mean} ms."
} > "$tmp/report.md"
publish_report "$missed"
