#!/usr/bin/env bash
# Builds the Debian package postgresql-15-pg-anomaly_<version>_<arch>.deb from the release
# build (`cargo pgrx package`), with dpkg-deb, into .local/package/ (or $1).
#
# The files go where Debian's postgresql-15 looks for them (its pg_config --pkglibdir and
# --sharedir): /usr/lib/postgresql/15/lib/pg_anomaly.so and /usr/share/postgresql/15/extension/.
# Depends: postgresql-15 and the C libraries the .so links (dpkg-shlibdeps); Recommends:
# postgresql-15-cron (the schedule runs through pg_cron, which may live in another database). Prints the package's path on its last line.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
OUT_DIR="${1:-$ROOT/.local/package}"
PKG=postgresql-15-pg-anomaly
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
# Debian's layout for PostgreSQL 15 (what /usr/lib/postgresql/15/bin/pg_config prints).
DEB_LIBDIR=/usr/lib/postgresql/15/lib
DEB_EXTDIR=/usr/share/postgresql/15/extension

BUILD="$OUT_DIR/pgrx" STAGE="$OUT_DIR/stage"
rm -rf "$BUILD" "$STAGE"; mkdir -p "$BUILD" "$STAGE/DEBIAN" "$STAGE$DEB_LIBDIR" "$STAGE$DEB_EXTDIR" "$STAGE/usr/share/doc/$PKG"
log "cargo pgrx package (release) for $PKG $VERSION"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$BUILD" 2>&1 | grep -vE '^\s*(Compiling|Checking)' | tail -n 3
test "${PIPESTATUS[0]}" -eq 0
# cargo-pgrx lays the files out under the build's pg_config paths (which may be a relocated
# copy): take them by name.
so=$(find "$BUILD" -name pg_anomaly.so -type f | head -n 1)
control=$(find "$BUILD" -name pg_anomaly.control -type f | head -n 1)
[ -n "$so" ] && [ -n "$control" ] || { echo "cargo pgrx package produced no pg_anomaly.so / control" >&2; exit 1; }
install -m 0644 "$so" "$STAGE$DEB_LIBDIR/pg_anomaly.so"
install -m 0644 "$control" "$STAGE$DEB_EXTDIR/pg_anomaly.control"
for f in $(find "$BUILD" -name 'pg_anomaly--*.sql' -type f); do
    install -m 0644 "$f" "$STAGE$DEB_EXTDIR/$(basename "$f")"
done
[ -f "$STAGE$DEB_EXTDIR/pg_anomaly--$VERSION.sql" ] || { echo "no pg_anomaly--$VERSION.sql in the build" >&2; exit 1; }
install -m 0644 README.md "$STAGE/usr/share/doc/$PKG/README.md"
cat > "$STAGE/usr/share/doc/$PKG/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pg_anomaly
Source: the pg_anomaly repository (release $VERSION)

Files: *
License: PostgreSQL
 Permission to use, copy, modify, and distribute this software and its documentation for
 any purpose, without fee, and without a written agreement is hereby granted, provided that
 the above copyright notice and this paragraph and the following two paragraphs appear in
 all copies.
EOF
strip --strip-debug "$STAGE$DEB_LIBDIR/pg_anomaly.so"

# Shared-library dependencies of the .so (libc6, libgcc-s1) as dpkg-shlibdeps computes them.
shlib_tmp=$(mktemp -d)
mkdir -p "$shlib_tmp/debian"
printf 'Source: pg-anomaly\n\nPackage: %s\nArchitecture: any\n' "$PKG" > "$shlib_tmp/debian/control"
shlibs=$(cd "$shlib_tmp" && dpkg-shlibdeps -O "$STAGE$DEB_LIBDIR/pg_anomaly.so" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlib_tmp"
[ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }

installed_kb=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: pg_anomaly maintainers <maintainers@pg-anomaly.invalid>
Installed-Size: $installed_kb
Depends: postgresql-15, $shlibs
Recommends: postgresql-15-cron
Section: database
Priority: optional
Description: in-database anomaly detection for PostgreSQL 15
 pg_anomaly adds SQL functions and background workers that collect operational time
 series, compute features, train isolation forests and z-score models, and write
 alerts (with notifications) inside the database, on a pg_cron schedule.
 .
 Add pg_cron and pg_anomaly to shared_preload_libraries, restart, then
 CREATE EXTENSION pg_cron; CREATE EXTENSION pg_anomaly;
EOF
(cd "$STAGE" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
find "$STAGE" -type d -exec chmod 0755 {} +
DEB="$OUT_DIR/${PKG}_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
log "built $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB, installed $installed_kb KiB)"
echo "$DEB"
