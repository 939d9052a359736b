#!/usr/bin/env bash
# Smoke run of every fuzz target: build them all, then run each for a few seconds from the seed
# corpus generated from golden/. Exits non-zero if any target crashes (or fails to build).
# Usage: fuzz/smoke.sh [seconds per target, default 5]. Called by .ci/run.
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-5}"
export RUSTC_BOOTSTRAP=1   # cargo-fuzz needs nightly flags; the stable toolchain accepts them this way
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# No sanitizer (safe Rust) and debug assertions on (integer overflow panics are findings), as in
# the long campaigns (docs/fuzzing.md); but an unoptimised build (--dev): it compiles in a third
# of the time, and a few seconds per target are a smoke test, not a campaign.
# SMOKE_PROFILE=release builds as the campaigns do.
if [[ "${SMOKE_PROFILE:-dev}" == release ]]; then flags=(-s none -a); else flags=(--dev -s none); fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 1
fi

echo "==> building the fuzz targets"
cargo fuzz build "${flags[@]}" || exit 1

echo "==> seed corpus from golden/"
cargo run -q --example gen_corpus || exit 1

# Targets with an open, documented finding (docs/fuzzing.md) are skipped, loudly, until it is fixed:
# the smoke run guards against regressions, and an open finding would fail every run. None now.
known_open=()

failed=()
for t in $(cargo fuzz list); do
  if [[ " ${known_open[*]} " == *" $t "* ]]; then
    echo "==> $t SKIPPED: open finding, see docs/fuzzing.md"
    continue
  fi
  # Every committed regression input of this target first, once each (-runs=0 runs the inputs).
  if [[ -n "$(ls -A "regressions/$t" 2>/dev/null)" ]]; then
    echo "==> $t: regressions/$t"
    if ! cargo fuzz run "${flags[@]}" "$t" "regressions/$t" -- -runs=0 2>"artifacts-$t.log"; then
      tail -n 30 "artifacts-$t.log"
      failed+=("$t (regression)")
      continue
    fi
  fi
  echo "==> $t (${secs}s)"
  mkdir -p "corpus/$t"
  if ! cargo fuzz run "${flags[@]}" "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=65536 \
        -print_final_stats=1 2>"artifacts-$t.log"; then
    tail -n 30 "artifacts-$t.log"
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units' "artifacts-$t.log" || true
  fi
  rm -f "artifacts-$t.log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz smoke: every target ran ${secs}s without a crash"
