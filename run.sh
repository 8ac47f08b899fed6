#!/usr/bin/env bash
# Set up (once) and run the main job:  bash run.sh [app.py options]
#   bash run.sh                                          # train on train.json, write result.txt
#   bash run.sh --model_name_or_path /path/to/model      # a local model folder instead of the hub's
# The environment (.venv, or the one you activated) is reused; README「两条命令」.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh requirements.txt
exec python app.py "$@"
