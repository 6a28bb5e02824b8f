#!/usr/bin/env bash
# Installs what building and testing pg_anomaly needs on Debian 12, skipping what is
# already there: PostgreSQL 15 dev files (pinned to the installed server), pg_cron,
# clang, dpkg-dev (the Debian package), cargo-pgrx =0.18.1, and pgrx's configuration for PostgreSQL 15.
source "$(dirname "$0")/common.sh"

need_apt=()
server_version=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
for pkg in postgresql-15 postgresql-server-dev-15 libpq-dev postgresql-15-cron libclang-dev clang sudo pkg-config libssl-dev librsvg2-bin dpkg-dev binutils bc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt: installing ${need_apt[*]}"
    pinned=()
    for pkg in "${need_apt[@]}"; do
        # Pin the dev packages to the installed server, or apt upgrades the server too.
        if [ -n "$server_version" ] && { [ "$pkg" = postgresql-server-dev-15 ] || [ "$pkg" = libpq-dev ]; }; then
            pinned+=("$pkg=$server_version")
        else
            pinned+=("$pkg")
        fi
    done
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pinned[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
    log "cargo install cargo-pgrx $PGRX_VERSION (about 4 minutes)"
    cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked
fi
PGRX_CONFIG_TOML="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if [ ! -f "$PGRX_CONFIG_TOML" ] || ! grep -q "pg15" "$PGRX_CONFIG_TOML"; then
    log "cargo pgrx init --pg15 $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi
log "setup complete"
