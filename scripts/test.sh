#!/usr/bin/env bash
# Install everything the tests need, start what the machine does not start, run lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends sqlite3 postgresql-client redis-server \
        pgbouncer nginx-light prometheus openssl >/dev/null
fi

PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip >/dev/null
pip install -q -e '.[test,embedded,service,loadtest]'

ruff check .
ruff format --check .
mypy
set +e
pytest -n 2 -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
    echo "no tests ran: failing" >&2
    exit 1
fi
exit "$rc"
