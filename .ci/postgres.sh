# Sourced by .ci/run: start a throwaway PostgreSQL server on 127.0.0.1 and export
#   CRMKIT_TEST_POSTGRES_URL  (a database the tests may fill and drop schemas in)
#   CRMKIT_REQUIRE_POSTGRES=1 (so the PostgreSQL tests fail instead of skipping)
# The server is stopped and its directory removed when the sourcing shell exits.
# It installs the distribution's packages only when initdb and pg_ctl are missing.

pg_bin() {
    local dir
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null \
        && [ -x "$(dirname "$(readlink -f "$(command -v pg_ctl)")")/createdb" ]; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return
        fi
    done
    return 1
}

if ! PG_BIN="$(pg_bin)"; then
    echo "postgres.sh: installing postgresql from the distribution's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    PG_BIN="$(pg_bin)"
fi

# The server refuses to run as root: run it as the postgres user (or a fresh one).
if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    pg_as() { runuser -u postgres -- "$@"; }
else
    pg_as() { "$@"; }
fi

PG_DIR="$(mktemp -d /tmp/crmkit-pg.XXXXXX)"
chmod 755 "$PG_DIR"
if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

pg_stop() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap pg_stop EXIT

# A throwaway cluster: trust auth on loopback only, and no fsync (its data dies with it).
pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U crmkit --auth=trust --encoding=UTF8 --no-locale >/dev/null
if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off" start >/dev/null; then
    cat "$PG_DIR/server.log" >&2
    exit 1
fi
pg_as "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U crmkit crmkit_test

export CRMKIT_TEST_POSTGRES_URL="postgresql://crmkit@127.0.0.1:$PG_PORT/crmkit_test"
export CRMKIT_REQUIRE_POSTGRES=1
echo "postgres.sh: $("$PG_BIN/pg_ctl" --version) on $CRMKIT_TEST_POSTGRES_URL"
