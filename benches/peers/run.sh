#!/usr/bin/env bash
# Side-by-side benchmark of botrun's engine against rivescript (npm), rivescript (PyPI) and
# python-aiml (PyPI) on the same generated bots (100, 1,000 and 5,000 intents) and the same inputs,
# each on one core. Installs the peers itself into target/peers. Prints a Markdown table.
#
#   bash benches/peers/run.sh [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}
work=target/peers
mkdir -p "$work"

if [ ! -d "$work/node_modules/rivescript" ]; then
  npm install --silent --no-audit --no-fund --prefix "$work" rivescript@2.2.1 >/dev/null
fi
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet rivescript==1.15.0 python-aiml==0.9.3
fi

cargo bench --quiet --bench engine --no-run >/dev/null 2>&1
engine_bench=$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -n 1)
"$engine_bench" --emit "$work/data" >/dev/null

echo "| intents | botrun replies/s | rivescript-js | rivescript (Py) | python-aiml | botrun ÷ python-aiml | botrun ÷ rivescript-js |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
ours=$(taskset -c 0 "$engine_bench" | grep -E '^\| [0-9]')
for n in 100 1000 5000; do
  botrun=$(echo "$ours" | awk -F'|' -v n="$n" '$2+0==n {gsub(/ /,"",$3); print $3}')
  js=$(NODE_PATH="$work/node_modules" taskset -c 0 node benches/peers/rivescript_bench.js "$work/data/bot-$n.rive" "$work/data/inputs-$n.txt" "$seconds" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rate"]))')
  py=$(taskset -c 0 "$work/venv/bin/python" benches/peers/python_bench.py rivescript "$work/data/bot-$n.rive" "$work/data/inputs-$n.txt" "$seconds" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rate"]))')
  ai=$(taskset -c 0 "$work/venv/bin/python" benches/peers/python_bench.py aiml "$work/data/bot-$n.aiml" "$work/data/inputs-$n.txt" "$seconds" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rate"]))')
  ratio_ai=$(python3 -c "print(f'{$botrun/max($ai,1):.0f}×')")
  ratio_js=$(python3 -c "print(f'{$botrun/max($js,1):.0f}×')")
  echo "| $n | $botrun | $js | $py | $ai | $ratio_ai | $ratio_js |"
done
