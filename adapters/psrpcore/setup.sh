#!/usr/bin/env bash
# Creates adapters/psrpcore/.venv (git-ignored) with the pinned psrpcore. Idempotent: does nothing
# when the venv already holds exactly the pinned versions. Needs python3 (3.8+) and PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$py" -m venv "$venv"
fi
want="$(grep -Ev '^\s*(#|$)' "$here/requirements.txt" | tr 'A-Z' 'a-z' | sort)"
have="$("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr 'A-Z' 'a-z' | sort)"
if ! diff <(echo "$want") <(echo "$have") >/dev/null; then
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
fi
"$venv/bin/python" -c 'import psrpcore, importlib.metadata as m; print("psrpcore", m.version("psrpcore"), "ready in", __import__("sys").prefix)'
