#!/usr/bin/env bash
# A long fuzz campaign that can be stopped and resumed: round-robin slices over the given targets,
# each slice appending its executions to a log, until every target has `GOAL` executions in all.
#
#   fuzz/campaign.sh [TARGET...]          # default: the codec (decoder) targets of src/paths.rs
#   fuzz/campaign.sh --summary            # executions, time and exec/s per target so far
#
# Environment: CAMPAIGN_DIR (corpus, artifacts and log; default fuzz/campaign, git-ignored),
# SLICE (seconds per slice, default 300), GOAL (executions per target, default 10000000),
# MAX_LEN (default 65536). Flags as docs/fuzzing.md: no sanitizer (safe Rust), debug assertions.
# Run two of them with disjoint target lists to use two cores; `nice` them beside other work.
# A crash stops that target (the input is in $CAMPAIGN_DIR/artifacts/<target>/) and is logged.
set -uo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
dir="${CAMPAIGN_DIR:-$PWD/campaign}"
slice="${SLICE:-300}"
goal="${GOAL:-10000000}"
max_len="${MAX_LEN:-65536}"
log="$dir/campaign.log"
mkdir -p "$dir"

summary() {
  # log line: <utc time> <target> <executions> <seconds> <exit status>
  awk '{ n[$2] += $3; s[$2] += $4; if ($5 != 0) bad[$2] = 1 }
       END { for (t in n) printf "%-22s %12d executions %8d s %8.0f exec/s%s\n", t, n[t], s[t], n[t] / (s[t] ? s[t] : 1), (bad[t] ? "  CRASH (see artifacts)" : "") }' "$log" | sort
}
if [[ "${1:-}" == "--summary" ]]; then
  [[ -f "$log" ]] && summary || echo "no campaign log at $log"
  exit 0
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(now_stream_1_6 now_stream_1_3 now_stream_1_0_text psrp_fragments psrp_defragment psrp_message
           psrp_clixml psrp_outofproc inedo_handshake inedo_frames inedo_frames_aes)
fi
cargo fuzz build -s none -a || exit 1
[[ -d corpus ]] || cargo run -q --example gen_corpus || exit 1

done_count() { awk -v t="$1" '$2 == t { n += $3 } END { print n + 0 }' "$log" 2>/dev/null || echo 0; }
crashed() { awk -v t="$1" '$2 == t && $5 != 0 { found = 1 } END { exit !found }' "$log" 2>/dev/null; }

while :; do
  active=0
  for t in "${targets[@]}"; do
    [[ -f "$log" ]] && crashed "$t" && continue
    have=$(done_count "$t")
    ((have >= goal)) && continue
    active=1
    mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t"
    # Seed once from golden/ (the campaign corpus then grows on its own).
    [[ -n "$(ls -A "$dir/corpus/$t")" ]] || cp corpus/"$t"/* "$dir/corpus/$t/" 2>/dev/null
    start=$(date +%s)
    out=$(cargo fuzz run -s none -a "$t" "$dir/corpus/$t" -- -max_total_time="$slice" -runs=$((goal - have)) \
          -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t/" 2>&1)
    rc=$?
    secs=$(($(date +%s) - start))
    n=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' <<<"$out" | grep -Eo '[0-9]+$' || echo 0)
    echo "$(date -u +%FT%TZ) $t ${n:-0} $secs $rc" >>"$log"
    if ((rc != 0)); then
      grep -E 'panicked|SUMMARY|Test unit written' <<<"$out" | head -5 >>"$dir/crashes.txt"
    fi
  done
  ((active)) || break
done
summary
