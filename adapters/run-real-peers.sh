#!/usr/bin/env bash
# Runs the catalogue against every real (third-party) peer through its shim, with its expectations
# file, writes the JSON reports to target/real-peers/ and regenerates docs/results-matrix.md.
#
#   adapters/run-real-peers.sh            # from anywhere; .ci/run calls it
#
# Installs what it needs itself: the psrpcore venv from PyPI (adapters/psrpcore/setup.sh) and the
# Rust shims from crates.io (cargo build). Exit status: 0 when every peer's results are what its
# expectations file says (pass, xfail, non-strict, unsupported), 1 on anything unexpected (fail,
# xpass or error beyond the expectations — peercheck's own exit code 1 or 3), 2 on a set-up error.
# A peer whose selection has no scenario yet is skipped (noted), not failed.
set -uo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
out=target/real-peers
mkdir -p "$out"
rm -f "$out"/*.json

step() { printf '\n==> %s\n' "$*"; }

step "install: psrpcore (PyPI, pinned)"
adapters/psrpcore/setup.sh || exit 2
py=adapters/psrpcore/.venv/bin/python

step "build: peercheck and the Rust shims (crates.io: now-client 0.1.0, now-proto-pdu 0.4.4)"
# PEERCHECK=/path/to/peercheck uses that binary instead of building one.
if [[ -n "${PEERCHECK:-}" ]]; then
  pc="$PEERCHECK"
  cargo build -q -p peercheck-adapter-now-client -p peercheck-adapter-now-pdu-server || exit 2
else
  pc="$target_dir/debug/peercheck"
  cargo build -q -p peercheck -p peercheck-adapter-now-client -p peercheck-adapter-now-pdu-server || exit 2
fi

failed=()
# run_peer LABEL ROLE [peercheck run options…]; the scenario selection is in the array `sel`
# (e.g. --filter 'psrp*'), shared by the count and the run.
run_peer() {
  local label=$1 role=$2
  shift 2
  local listing n
  if ! listing=$("$pc" list scenarios "${sel[@]}" --role "$role" --json 2>&1); then
    step "$label: cannot list the scenarios"
    echo "$listing" | head -5
    failed+=("$label")
    return
  fi
  n=$(grep -c '^{' <<<"$listing")
  step "$label: $n scenario(s) as $role"
  if [[ "$n" == 0 ]]; then
    echo "no scenario for the $role role yet: skipped"
    return
  fi
  "$pc" run scenarios --quiet "${sel[@]}" --role "$role" \
    --expectations "expectations/$label.yaml" --json "$out/$label.json" "$@"
  local rc=$?
  if [[ $rc != 0 ]]; then
    echo "$label: unexpected results (peercheck exit $rc)"
    failed+=("$label")
  fi
}

# The PSRP catalogue pins a framing per scenario (params.framing). The server shim detects it from
# the first byte; a client speaks first, so the client scenarios run in two groups, each with the
# client started in its framing.
client_oop=() client_frag=()
"$pc" list scenarios --filter 'psrp*' >/dev/null || exit 2
while IFS=$'\t' read -r id file; do
  if grep -Eq 'framing: *fragments' "$file"; then client_frag+=(--filter "$id"); else client_oop+=(--filter "$id"); fi
done < <("$pc" list scenarios --filter 'psrp*' --role client --json 2>/dev/null |
  python3 -c 'import json,sys; [print(d["id"], d["file"], sep="\t") for d in (json.loads(l) for l in sys.stdin if l.startswith("{"))]')

sel=(--filter 'psrp*')
run_peer psrpcore-server server --exec "$py adapters/psrpcore/server.py"
if ((${#client_oop[@]})); then
  sel=("${client_oop[@]}")
  run_peer psrpcore-client client --listen tcp://127.0.0.1:0 --exec "$py adapters/psrpcore/client.py {addr}"
fi
if ((${#client_frag[@]})); then
  sel=("${client_frag[@]}")
  run_peer psrpcore-client-fragments client --listen tcp://127.0.0.1:0 \
    --exec "$py adapters/psrpcore/client.py {addr} --framing fragments"
fi
sel=(--filter 'now*')
run_peer now-client client --listen tcp://127.0.0.1:0 --exec "$target_dir/debug/now-client-shim {addr}"
run_peer now-pdu-server server --exec "$target_dir/debug/now-pdu-server"

step "results matrix"
shopt -s nullglob
reports=("$out"/*.json)
if ((${#reports[@]})); then
  python3 adapters/results_matrix.py "${reports[@]}" -o docs/results-matrix.md && echo "wrote docs/results-matrix.md"
fi

if ((${#failed[@]})); then
  echo "real peers: unexpected results for: ${failed[*]}" >&2
  exit 1
fi
echo "real peers: every result as expected"
