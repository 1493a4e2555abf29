#!/usr/bin/env bash
# The two-region layout of service/DEPLOYMENT.md, run on one machine as processes: for each of
# the regions ch and gcc, a PostgreSQL database, two `letro serve` replicas (one leads, the
# other forwards to it) and a `letro prover-worker`; and one `letro witness` cosigning both
# logs. It stands where a compose file would: every process, setting and order of start is
# here, and it runs (cli/tests/deploy.rs runs it with --check in `cargo test`).
#
#   service/deploy/two-regions.sh            start everything, print the addresses, wait for Ctrl-C
#   service/deploy/two-regions.sh --check    start everything, check it (below), stop, exit 0 or 1
#
# Environment:
#   LETRO                    the letro binary (default: target/release/letro, else target/debug/letro)
#   LETRO_CH_DATABASE        the ch region's empty PostgreSQL database (postgres://...); default:
#   LETRO_GCC_DATABASE       one created (and dropped at exit) through PG_ADMIN with psql
#   PG_ADMIN                 default postgres://postgres@127.0.0.1:5432/postgres
#
# What --check checks, through curl:
#   - every replica of a region serves the region's log key; a non-leading one says `Via:
#     1.1 letro-replica`, having forwarded;
#   - a submission sent to the non-leading replica of each region is logged, and the region
#     publishes a checkpoint cosigned by the witness;
#   - a relay token of ch is refused by gcc (401);
#   - kill -9 of ch's leader: the other replica takes over, and the same submission sent to it
#     again is answered as already logged at the same index;
#   - the prover workers run and stay up.
set -euo pipefail

check=false
[ "${1:-}" = "--check" ] && check=true
root="$(cd "$(dirname "$0")/../.." && pwd)"
letro="${LETRO:-}"
if [ -z "$letro" ]; then
  for candidate in "$root/target/release/letro" "$root/target/debug/letro"; do
    [ -x "$candidate" ] && { letro="$candidate"; break; }
  done
fi
[ -x "${letro:-}" ] || { echo "error: no letro binary: build it (cargo build --release -p letro-cli) or set LETRO" >&2; exit 2; }
admin="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
work="$(mktemp -d "${TMPDIR:-/tmp}/letro-two-regions.XXXXXX")"
pids=()
created=()

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for db in "${created[@]}"; do
    psql "$admin" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAILED: $*" >&2
  for log in "$work"/*.log; do
    echo "--- $(basename "$log")" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}

# wait_for FILE PATTERN: the first line of FILE matching PATTERN, within 60 s.
wait_for() {
  for _ in $(seq 600); do
    if line="$(grep -m1 -e "$2" "$1" 2>/dev/null)"; then
      printf '%s\n' "$line"
      return 0
    fi
    sleep 0.1
  done
  fail "no \"$2\" in $(basename "$1") within 60 s"
}

# start NAME ARGS...: runs letro ARGS in the background, its stderr in $work/NAME.log.
start() {
  local name="$1"
  shift
  "$letro" "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  eval "pid_${name//-/_}=$!"
}

# database_for REGION GIVEN: sets db_REGION to GIVEN, else to a database created for this run
# (dropped at exit).
database_for() {
  local region="$1" given="$2"
  if [ -n "$given" ]; then
    eval "db_$region=\$given"
    return
  fi
  local name="letro_two_regions_${region}_$$"
  psql "$admin" -qAtc "CREATE DATABASE $name" >/dev/null || fail "cannot create $name through $admin"
  created+=("$name")
  eval "db_$region=\${admin%/*}/\$name"
}

database_for ch "${LETRO_CH_DATABASE:-}"
database_for gcc "${LETRO_GCC_DATABASE:-}"

# 1. Each region's log key: created by a first start, then given to every replica (log_key).
for region in ch gcc; do
  start "key-$region" serve --data "$work/key-$region" --origin "$region.relay.example/letro-log" --listen 127.0.0.1:0
  wait_for "$work/key-$region.log" '^log key: ' >/dev/null
  eval "kill \$pid_key_$region; wait \$pid_key_$region 2>/dev/null || true"
done
vkey_ch="$("$letro" log key --data "$work/key-ch")"
vkey_gcc="$("$letro" log key --data "$work/key-gcc")"

# 2. The witness, following both logs.
mkdir -p "$work/witness"
cat >"$work/witness.toml" <<EOF
name = "witness.example.org/w1"
data = "$work/witness"
listen = "127.0.0.1:0"
[[log]]
origin = "ch.relay.example/letro-log"
vkeys = ["$vkey_ch"]
[[log]]
origin = "gcc.relay.example/letro-log"
vkeys = ["$vkey_gcc"]
EOF
witness_vkey="$("$letro" witness --config "$work/witness.toml" --print-key)"
start witness witness --config "$work/witness.toml"
witness_addr="$(wait_for "$work/witness.log" 'listening on ' | sed 's/.*listening on \([^ ,]*\).*/\1/')"

# 3. Per region: one settings file for both replicas, which differ only in `data`.
for region in ch gcc; do
  eval "db=\$db_$region"
  cat >"$work/letro-$region.toml" <<EOF
database = "$db"
origin = "$region.relay.example/letro-log"
log_key = "$work/key-$region/log.key"
listen = "127.0.0.1:0"
standby = true
provers = 0
checkpoint_interval_seconds = 1
witness_quorum = 1
tiles_store = "file://$work/tiles-$region"
[[witness]]
vkey = "$witness_vkey"
url = "http://$witness_addr"
EOF
  mkdir -p "$work/tiles-$region"
  for replica in a b; do
    start "$region-$replica" serve --config "$work/letro-$region.toml" --data "$work/$region-$replica"
    # The first replica takes the lock before the second starts, so that `a` leads.
    [ "$replica" = a ] && wait_for "$work/$region-a.log" 'took over the log' >/dev/null
  done
  # 4. The region's prover worker.
  start "$region-worker" prover-worker --database "$db" --log-vkey "$(eval echo "\$vkey_$region")" --provers 1
done

addr_of() { wait_for "$work/$1.log" 'listening on ' | sed 's/.*listening on \([^ ,]*\).*/\1/'; }
for name in ch-a ch-b gcc-a gcc-b; do
  eval "addr_${name/-/_}=$(addr_of "$name")"
done
wait_for "$work/ch-worker.log" 'prover-worker' >/dev/null
wait_for "$work/gcc-worker.log" 'prover-worker' >/dev/null

echo "witness  http://$witness_addr  $witness_vkey"
echo "ch       http://$addr_ch_a (leads)  http://$addr_ch_b  $db_ch"
echo "gcc      http://$addr_gcc_a (leads)  http://$addr_gcc_b  $db_gcc"
echo "logs and settings in $work"

if ! $check; then
  echo "running; Ctrl-C stops everything"
  wait
  exit 0
fi

# 5. Tokens, per region.
relay_ch="$("$letro" token issue --database "$db_ch" --role relay --subject relay 2>/dev/null)"
relay_gcc="$("$letro" token issue --database "$db_gcc" --role relay --subject relay 2>/dev/null)"
sleep 1.5 # the services reload their tokens every second

for region in ch gcc; do
  eval "a=\$addr_${region}_a; b=\$addr_${region}_b; vkey=\$vkey_$region; relay=\$relay_$region"
  for addr in "$a" "$b"; do
    got="$(curl -sf "http://$addr/v1/log/key")" || fail "$region: $addr does not serve the log key"
    [ "$got" = "$vkey" ] || fail "$region: $addr serves the key $got"
  done
  curl -sf -D - -o /dev/null "http://$b/healthz" | grep -qi '^via: 1.1 letro-replica' || fail "$region: $b did not forward"
  body="{\"ciphertext_sha256\":\"$(printf '%s' "$region message" | sha256sum | cut -c1-64)\",\"sender\":\"bank\",\"routing\":\"r\"}"
  status="$(curl -s -o "$work/answer" -w '%{http_code}' -X POST "http://$b/v1/submissions" \
    -H "authorization: Bearer $relay" -H 'content-type: application/json' -d "$body")"
  [ "$status" = 201 ] || fail "$region: the submission through $b: $status $(cat "$work/answer")"
  grep -q '"index":0' "$work/answer" || fail "$region: logged as $(cat "$work/answer")"
  cosigned=false
  for _ in $(seq 100); do
    if curl -sf "http://$b/v1/log/checkpoint" | grep -q '^— witness.example.org/w1 '; then
      cosigned=true
      break
    fi
    sleep 0.1
  done
  $cosigned || fail "$region: no checkpoint cosigned by the witness within 10 s"
  eval "submission_$region='$body'"
done
status="$(curl -s -o /dev/null -w '%{http_code}' "http://$addr_gcc_a/v1/log/state" -H "authorization: Bearer $relay_ch")"
[ "$status" = 401 ] || fail "a ch token at gcc: $status"

# 6. Failover in ch: kill -9 the leader; the other replica takes over and has the log.
kill -9 "$pid_ch_a"
wait "$pid_ch_a" 2>/dev/null || true
wait_for "$work/ch-b.log" 'took over the log' >/dev/null
for _ in $(seq 100); do
  status="$(curl -s -o "$work/answer" -w '%{http_code}' -X POST "http://$addr_ch_b/v1/submissions" \
    -H "authorization: Bearer $relay_ch" -H 'content-type: application/json' -d "$submission_ch")" || true
  [ "$status" = 200 ] && break
  sleep 0.1
done
# 200, not 201: the same event, already logged, at the same index.
[ "$status" = 200 ] || fail "ch after the failover: $status $(cat "$work/answer")"
grep -q '"index":0' "$work/answer" || fail "ch after the failover: $(cat "$work/answer")"

kill -0 "$pid_ch_worker" 2>/dev/null || fail "the ch prover worker stopped"
kill -0 "$pid_gcc_worker" 2>/dev/null || fail "the gcc prover worker stopped"
echo "two regions: checked"
