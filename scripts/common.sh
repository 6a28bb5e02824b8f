# Shared settings of the project's scripts. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PGA_PG_BIN points at another (relocated) PostgreSQL 15 installation, so several checkouts
# can install and test side by side without overwriting each other's pg_anomaly.so.
PG_BIN="${PGA_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_CONFIG="$PG_BIN/pg_config"
PGRX_VERSION=0.18.1
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Runs a command as the postgres user (PostgreSQL refuses to run as root).
as_pg() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}
