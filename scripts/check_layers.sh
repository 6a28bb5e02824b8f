#!/usr/bin/env bash
# The layers of src/ and their arrows (README "Architecture"), checked by grep:
#   api -> pipeline -> {storage, core};  workers -> pipeline;  nothing imports api or workers.
# 1. crates/core and src/storage never name the api, pipeline or workers modules;
# 2. src/pipeline never names api or workers;
# 3. no SQL is run outside src/storage (and sql/): no SPI call and no statement text in
#    api/, pipeline/, workers/ or lib.rs, their #[pg_test] modules (SQL by nature) aside.
# Prints each violation; exits 1 when there is one.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
report() { echo "check_layers: $1"; printf '%s\n' "$2" | sed 's/^/  /'; fail=1; }

# Code only: everything from the first #[cfg(any(test, feature = "pg_test"))] or #[cfg(test)]
# line on is a test module (they sit at the end of their file); comment lines drop out.
code() {
    for f in "$@"; do
        awk -v f="$f" '/^#\[cfg\((any\(test|test\))/ {exit} !/^\s*\/\// {print f ":" FNR ": " $0}' "$f"
    done
}

core_files=$(find crates/core/src -name '*.rs')
storage_files=$(find src/storage -name '*.rs')
pipeline_files=$(find src/pipeline -name '*.rs')
upper_files="$(find src/api src/workers src/pipeline -name '*.rs') src/lib.rs src/gucs.rs src/errors.rs"

hits=$(code $core_files $storage_files | grep -E '(crate|super)::(api|pipeline|workers)\b|pg_anomaly::(api|pipeline|workers)\b')
[ -n "$hits" ] && report "crates/core or src/storage names an upper layer" "$hits"

hits=$(code $pipeline_files | grep -E 'crate::(api|workers)\b')
[ -n "$hits" ] && report "src/pipeline names api or workers" "$hits"

hits=$(code $(find src/workers -name '*.rs') | grep -E 'crate::api\b')
[ -n "$hits" ] && report "src/workers names api (workers call the pipeline)" "$hits"

hits=$(code $upper_files | grep -E 'Spi::|client\.(select|update)|storage::(one|exec)\b|\bone::<|\bexec\(')
[ -n "$hits" ] && report "SPI outside src/storage" "$hits"

# Statement text: a string that opens with a SQL verb and goes on like a statement.
# User-facing hints that quote SQL end with the marker comment `// hint`.
hits=$(code $upper_files | grep -v '// hint$' \
    | grep -E '"\s*(SELECT|INSERT INTO|UPDATE [a-z_.]+ SET|DELETE FROM|WITH [a-z_]+ AS|SET (LOCAL )?[a-z_.]+ ?(=|TO)|CREATE |DROP |ALTER |TRUNCATE )')
[ -n "$hits" ] && report "SQL statement text outside src/storage" "$hits"

[ "$fail" -eq 0 ] && echo "check_layers: ok (api -> pipeline -> {storage, core}; workers -> pipeline; SQL only in src/storage and sql/)"
exit "$fail"
