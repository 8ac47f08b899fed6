#!/usr/bin/env bash
# Set up (once) and run the main job:  bash run.sh [app.py options]
#   bash run.sh                                          # train on train.json, write result.txt
#   bash run.sh --model_name_or_path /path/to/model      # a local model folder instead of the hub's
#   bash run.sh demo.py --port 7861                      # another of our programs, in the same environment
# The environment (.venv, or the one you activated) is reused; README「两条命令」.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh requirements.txt
program=app.py
if [ $# -gt 0 ] && [[ "$1" == *.py ]] && [ -f "$1" ]; then
  program=$1
  shift
fi
exec python "$program" "$@"
