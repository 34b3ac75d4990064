#!/bin/bash
# Interleaved A/B of the download path: per round `curl -o && sync`, the old
# checkout (OLD, a git worktree with node_modules linked), the new one.
# usage: OLD=/tmp/abold URL=http://127.0.0.1:PORT DIR=/mnt/t ROUNDS=3 ab.sh
set -u
NEW=$(cd "$(dirname "$0")/../../.." && pwd)
F=$URL/acme/big-model/resolve/main/model.safetensors
for r in $(seq 1 "${ROUNDS:-3}"); do
  l=$(cut -d' ' -f1 /proc/loadavg)
  c=$( { /usr/bin/time -f "%e %U %S" sh -c "curl -s -o $DIR/c.bin $F && sync $DIR/c.bin" ; } 2>&1 )
  rm -f "$DIR/c.bin"
  echo "round $r load $l curl+sync $c"
  for v in old new; do
    d=$NEW; [ $v = old ] && d=$OLD
    out=$(cd "$d" && BENCH_AB_URL=$URL BENCH_AB_DIR=$DIR/ab-$v node -r @backstage/cli/config/nodeTransform.cjs bench/hf-download/ab/one.ts 2>&1 | tail -1)
    echo "round $r $v $out"
  done
done
