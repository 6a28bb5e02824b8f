#!/usr/bin/env bash
# Installs the files of a `cargo pgrx package` staging directory ($1, default
# .local/package) into their places, each one atomically: written under a temporary name in
# its destination directory, then renamed over the old file. A running server that has the
# old pg_anomaly.so mapped keeps the old inode; a backend starting meanwhile loads the old
# file or the new one, never a half-written one. Used by scripts/install.sh and by the fault
# tier, which reinstalls under load with the workers running.
source "$(dirname "$0")/common.sh"
stage="${1:-$ROOT/.local/package}"
test -d "$stage" || { echo "no package in $stage: run scripts/install.sh" >&2; exit 1; }
count=0
while IFS= read -r -d '' f; do
    dest="/${f#"$stage"/}"
    dir="$(dirname "$dest")"
    mkdir -p "$dir"
    tmp="$dir/.$(basename "$dest").tmp.$$"
    install -m 0755 "$f" "$tmp"
    mv -f "$tmp" "$dest"
    count=$((count + 1))
done < <(find "$stage" -type f -print0)
log "installed $count files atomically"
