#!/usr/bin/env bash
# Side-by-side benchmark of botrun against rivescript (npm), rivescript (PyPI) and python-aiml
# (PyPI) on the realistic corpus of benches/engine/corpus.rs (shared English vocabulary, phrases
# inside chatty messages, small words between phrase words, 10 % typos, 10 % unrelated text) at
# 100, 1,000 and 5,000 intents, each system on one core, systems interleaved per size. Every reply
# of every system is checked against the expected one. Installs the peers into target/peers.
#
#   bash benches/peers/run.sh [SECONDS_PER_RUN] [SIZES…]
#
# Prints two Markdown tables: the engine and its peers, and `botrun replay` as a whole process.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}
shift || true
sizes=${*:-100 1000 5000}
work=target/peers
mkdir -p "$work"

if [ ! -d "$work/node_modules/rivescript" ]; then
  npm install --silent --no-audit --no-fund --prefix "$work" rivescript@2.2.1 >/dev/null
fi
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet rivescript==1.15.0 python-aiml==0.9.3
fi

cargo build --quiet --release --bin botrun
cargo bench --quiet --bench engine --no-run >/dev/null 2>&1
engine_bench=$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -n 1)
"$engine_bench" --emit "$work/data" >/dev/null
botrun=target/release/botrun
rate() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["rate"]), "%.1f" % (100*d["right"]/max(d["replies"],1)))'; }

engine_table="| intents | botrun replies/s | botrun, typos tolerated | typo cost | botrun wrong | rivescript-js | rivescript (Py) | python-aiml | botrun ÷ python-aiml | botrun (typos) ÷ python-aiml |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
replay_table="| intents | \`botrun replay\` lines/s (whole process) | with typos tolerated | typo cost | lines | right (exact bot / typos bot) |
|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  data="$work/data"
  # botrun's engine, both bots; wrong replies are counted by the bench itself.
  row=$(taskset -c 0 "$engine_bench" --size "$n" --seconds "$seconds" | grep -E '^\| [0-9]')
  ours=$(echo "$row" | awk -F'|' '{gsub(/ /,""); print $3}')
  ours_typos=$(echo "$row" | awk -F'|' '{gsub(/ /,""); print $4}')
  cost=$(echo "$row" | awk -F'|' '{gsub(/ /,""); print $5}')
  wrong=$(echo "$row" | awk -F'|' '{gsub(/ /,""); print $6}')
  # The peers, on the same inputs (expected replies without typo tolerance: they have none).
  read -r js js_ok < <(NODE_PATH="$work/node_modules" taskset -c 0 node benches/peers/rivescript_bench.js "$data/bot-$n.rive" "$data/inputs-$n.txt" "$data/expect-$n.txt" "$seconds" | rate)
  read -r py py_ok < <(taskset -c 0 "$work/venv/bin/python" benches/peers/python_bench.py rivescript "$data/bot-$n.rive" "$data/inputs-$n.txt" "$data/expect-$n.txt" "$seconds" | rate)
  read -r ai ai_ok < <(taskset -c 0 "$work/venv/bin/python" benches/peers/python_bench.py aiml "$data/bot-$n.aiml" "$data/inputs-$n.txt" "$data/expect-$n.txt" "$seconds" | rate)
  ratio=$(python3 -c "print(f'{$ours/max($ai,1):.0f}×')")
  ratio_typos=$(python3 -c "print(f'{$ours_typos/max($ai,1):.0f}×')")
  engine_table+="
| $n | $ours | $ours_typos | $cost | $wrong | $js ($js_ok % right) | $py ($py_ok % right) | $ai ($ai_ok % right) | $ratio | $ratio_typos |"
  # botrun replay, whole process (reading and compiling the bot included): 100 copies of the
  # 10,000 inputs, one million lines; the best of three runs, the two bots alternating.
  big="$data/big-$n.txt"
  for _ in $(seq 100); do cat "$data/inputs-$n.txt"; done >"$big"
  lines=$(wc -l <"$big")
  replay_seconds() {
    local start end
    start=$(date +%s.%N)
    taskset -c 0 "$botrun" replay "$1" "$big" >/dev/null 2>/dev/null
    end=$(date +%s.%N)
    python3 -c "print($end-$start)"
  }
  best_plain=1e9 best_typos=1e9
  for _ in 1 2 3; do
    best_plain=$(python3 -c "print(min($best_plain, $(replay_seconds "$data/bot-$n.bot")))")
    best_typos=$(python3 -c "print(min($best_typos, $(replay_seconds "$data/bot-$n-typos.bot")))")
  done
  plain=$(python3 -c "print(round($lines/$best_plain))")
  typos=$(python3 -c "print(round($lines/$best_typos))")
  replay_cost=$(python3 -c "print(f'{$best_typos/$best_plain:.2f}×')")
  # Every intent the replay reports is checked against the expected reply, for both bots.
  check() {
    "$botrun" replay "$1" "$data/inputs-$n.txt" 2>/dev/null | python3 -c '
import json, sys
expected = open(sys.argv[1]).read().split("\n")
right = total = 0
for line, want in zip(sys.stdin, expected):
    got = json.loads(line)["intent"]
    right += (got is None and want == "sorry") or (got is not None and want == "answer " + got[1:])
    total += 1
print(f"{100*right/total:.1f} %")' "$2"
  }
  right="$(check "$data/bot-$n.bot" "$data/expect-$n.txt") / $(check "$data/bot-$n-typos.bot" "$data/expect-$n-typos.txt")"
  replay_table+="
| $n | $plain | $typos | $replay_cost | $lines | $right |"
done
echo "$engine_table"
echo
echo "$replay_table"
