#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (slow end-to-end tests included).
# Extra arguments go to pytest (e.g. -m "not slow" for the quick subset).
source "$(dirname "$0")/bootstrap.sh"
"${UV[@]}" run --locked --no-sync ruff format --check .
"${UV[@]}" run --locked --no-sync ruff check .
"${UV[@]}" run --locked --no-sync mypy
"${UV[@]}" run --locked --no-sync pytest "$@"
