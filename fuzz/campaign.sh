#!/bin/sh
# One fuzz target's campaign run: seeded from seeds/<target> (python3 seeds.py), new inputs kept
# in corpus/<target>, libFuzzer's log in logs/<target>.log. One worker, niced, so it can share a
# small machine. Usage: fuzz/campaign.sh <target> <max seconds> [runs, default 10000000]
set -eu
cd "$(dirname "$0")"
target=$1 secs=$2 runs=${3:-10000000}
mkdir -p "corpus/$target" logs
[ -d "seeds/$target" ] || python3 seeds.py
RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -jobs=1 -rss_limit_mb=2048 -runs="$runs" -max_total_time="$secs" -print_final_stats=1
mv fuzz-0.log "logs/$target.log"
