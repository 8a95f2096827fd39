# Sourced by the other scripts: make uv available and sync the project's dev environment.
# Needs only a Python 3 with pip on PATH (a fresh machine of this kind has 3.11).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON3="${PYTHON3:-$(command -v python3)}"
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! "$PYTHON3" -m uv --version >/dev/null 2>&1; then
    echo "bootstrap: installing uv with pip" >&2
    "$PYTHON3" -m pip install --quiet --disable-pip-version-check uv
  fi
  UV=("$PYTHON3" -m uv)
fi
echo "bootstrap: syncing the development environment (.venv)" >&2
# Byte-compiled like pip installs are: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
"${UV[@]}" sync --locked --group dev --python "$PYTHON3" --quiet --compile-bytecode
# The package itself (pyproject.toml: [tool.uv] package = false), editable, without resolving.
"${UV[@]}" pip install --quiet --python .venv/bin/python --no-deps --editable .
