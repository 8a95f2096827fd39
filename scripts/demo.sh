#!/usr/bin/env bash
# The main job on the embedded synthetic export: build it, provision Python 3.8, score its rows.
# Extra arguments go to `dai-mlflow demo` (e.g. --kind multiclass).
source "$(dirname "$0")/bootstrap.sh"
"${UV[@]}" run --locked --no-sync dai-mlflow demo "$@"
