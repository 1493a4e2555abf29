#!/usr/bin/env bash
# The peer baseline of the prover benchmarks, whole process against whole process on one
# machine in one run: `letro prove` (record in, bundle out, the built-in keys) against snarkjs's
# `groth16 fullprove` (witness generation from circom's WebAssembly, then the proof) of the
# circom/circomlib version of the statement, delivered_within.circom, on the same record.
#
#   LETRO_PTAU=/path/to/powers-of-tau.ptau bash benches/peer/run.sh [RUNS]
#
# Installs circom (circom2, circom compiled to WebAssembly), circomlib and snarkjs from npm,
# pinned by package-lock.json; builds `letro` and `peer-input` in release; compiles the circuit
# with --O2; makes a Groth16 key with snarkjs on the given phase 1 (power 14 or more; only the
# timing depends on it); checks that snarkjs's public signals equal the statement's public
# inputs and that its proof verifies; then alternates the two provers RUNS times (default 11)
# and prints the median wall time and peak memory of each, and the ratio.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-11}"
ptau="${LETRO_PTAU:?set LETRO_PTAU to a powers-of-tau file of power 14 or more}"
record="$root/testdata/records/valid.record.json"
not_before=2026-11-01T00:00:00Z
not_after=2026-11-26T12:00:00Z
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== installing circom2, circomlib and snarkjs (package-lock.json)"
npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
snarkjs="$here/node_modules/.bin/snarkjs"
echo "== building letro and peer-input (release)"
(cd "$root" && cargo build --release --locked -q -p letro-cli -p letro-benches --bin letro --bin peer-input)
letro="$root/target/release/letro"

echo "== compiling delivered_within.circom (--O2)"
(cd "$here" && node_modules/.bin/circom2 delivered_within.circom --r1cs --wasm --O2 \
  -l node_modules -o "$work") | grep -E "constraints|wires"
echo "== snarkjs groth16 setup"
"$snarkjs" groth16 setup "$work/delivered_within.r1cs" "$ptau" "$work/peer.zkey" >/dev/null
"$snarkjs" zkey export verificationkey "$work/peer.zkey" "$work/peer.vkey.json" >/dev/null
"$root/target/release/peer-input" "$record" "$not_before" "$not_after" >"$work/input.json"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
rss() { awk '/Maximum resident/ {print $6}' "$1"; }
: >"$work/letro.txt"
: >"$work/snarkjs.txt"
for i in $(seq "$runs"); do
  t=$(date +%s%N)
  /usr/bin/time -v "$letro" prove "$record" --not-before "$not_before" --not-after "$not_after" \
    --out "$work/bundle.json" --force >/dev/null 2>"$work/time.txt"
  echo "$(ms "$t") $(rss "$work/time.txt")" >>"$work/letro.txt"
  t=$(date +%s%N)
  /usr/bin/time -v "$snarkjs" groth16 fullprove "$work/input.json" \
    "$work/delivered_within_js/delivered_within.wasm" "$work/peer.zkey" \
    "$work/proof.json" "$work/public.json" >/dev/null 2>"$work/time.txt"
  echo "$(ms "$t") $(rss "$work/time.txt")" >>"$work/snarkjs.txt"
done

echo "== checks"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
public = json.load(open(f"{w}/public.json"))
inp = json.load(open(f"{w}/input.json"))
names = ["h_hi", "h_lo", "not_before", "not_after", "commitment", "root"]
assert public == [inp[n] for n in names], (public, [inp[n] for n in names])
print("snarkjs's public signals are the statement's public inputs")
PY
"$snarkjs" groth16 verify "$work/peer.vkey.json" "$work/public.json" "$work/proof.json" | tail -1

echo "== results: $runs runs of each, alternating, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work" <<'PY'
import statistics, sys
w = sys.argv[1]
def load(name):
    rows = [tuple(map(int, l.split())) for l in open(f"{w}/{name}.txt")]
    return statistics.median(r[0] for r in rows), max(r[1] for r in rows), min(r[0] for r in rows), max(r[0] for r in rows)
l, s = load("letro"), load("snarkjs")
print(f"letro prove              median {l[0]:7.0f} ms (min {l[2]}, max {l[3]}), peak RSS {l[1]/1024:6.1f} MiB")
print(f"snarkjs groth16 fullprove median {s[0]:7.0f} ms (min {s[2]}, max {s[3]}), peak RSS {s[1]/1024:6.1f} MiB")
print(f"ratio (snarkjs / letro, medians): {s[0]/l[0]:.1f}x")
PY
