#!/usr/bin/env bash
# The session of docs/index-guide.md ("A session"), run as a user would, printing its text block.
#
# Run:
#     bash examples/index_session.sh [FOLDER]      # FOLDER: /tmp/session by default, emptied first
#
# `hnn` must be on PATH. The two set-up commands (the tiny weight test bed and a checkpoint trained
# on six of its ONNX files) print nothing here; then every command of the block is shown after
# `$ `, with its stdout and its `hnn:` lines from stderr (the progress bars are left out), and
# `(exit status N)` after the commands where the guide gives it.
set -euo pipefail

dir=${1:-/tmp/session}
rm -rf "$dir" && mkdir "$dir" && cd "$dir"

hnn weights testbed --tiny --out bed > /dev/null 2>&1
hnn train hnn_net --out run 'data.source=[{"path": "bed/mlp/mlp-base0-exact_onnx.onnx", "category": "mlp"}, {"path": "bed/mlp/mlp-base0-int8_dynamic.onnx", "category": "mlp"}, {"path": "bed/cnn/cnn-base0-exact_onnx.onnx", "category": "cnn"}, {"path": "bed/cnn/cnn-base0-int8_dynamic.onnx", "category": "cnn"}, {"path": "bed/transformer/transformer-base0-exact_onnx.onnx", "category": "transformer"}, {"path": "bed/transformer/transformer-base0-int8_dynamic.onnx", "category": "transformer"}]' \
    data.copies=3 data.train_frac=0.67 train.epochs=40 train.ged_jobs=1 ged_cache=ged.sqlite \
    > /dev/null 2>&1

err=$(mktemp)
trap 'rm -f "$err"' EXIT

# show STATUS COMMAND: print the command and its output; STATUS=1 also prints its exit status.
show() {
    local status_line=$1 cmd=$2 rc=0
    echo "\$ $cmd"
    eval "$cmd" 2> "$err" || rc=$?
    tr '\r' '\n' < "$err" | grep '^hnn: ' || true
    if [ "$status_line" = 1 ]; then echo "(exit status $rc)"; fi
}

show 0 "hnn index add --db protected.db --checkpoint run/model.pt bed/cnn/cnn-base0-exact_onnx.onnx bed/mlp/mlp-base0-exact_onnx.onnx"
show 0 "hnn index add --db protected.db --structure bed/cnn/cnn-base0-exact_onnx.onnx bed/cnn/cnn-seed0.safetensors"
show 0 "cp bed/cnn/cnn-base0-exact_onnx.onnx upload.onnx"
show 1 "hnn index check --db protected.db upload.onnx bed/cnn/cnn-base0-int8_dynamic.onnx bed/cnn/cnn-base0-fp16.onnx"
show 1 "hnn index check --db protected.db --structure bed/cnn/cnn-base0-exact_onnx.onnx bed/cnn/cnn-base0-exact_renamed.safetensors bed/cnn/cnn-base0-finetune.safetensors"
show 1 "hnn index check --db protected.db --structure bed/cnn/cnn-base0-exact_onnx.onnx bed/cnn/cnn-seed1.safetensors"
show 1 "hnn index check --db protected.db --structure bed/cnn/cnn-base0-exact_onnx.onnx bed/cnn/cnn-seed1.safetensors --fail-on structure > /dev/null"
show 1 "hnn index add --db protected.db bed/cnn/cnn-seed1.safetensors"
show 0 "hnn index check --db protected.db --structure bed/cnn/cnn-base0-exact_onnx.onnx --json bed/cnn/cnn-base0-permute.safetensors bed/cnn/cnn-data0.safetensors | python -c \"import json, sys; [print(d['upload'], d['tier'], d['suspect'], [(c['record']['name'], c['tier'], c['weights']['distance']) for c in d['candidates']]) for d in json.load(sys.stdin)]\""
show 0 "hnn index stats --db protected.db"
