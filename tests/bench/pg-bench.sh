#!/bin/sh
# Runs store-bench against a throwaway Postgres 15 (as the tests start it: initdb as the
# postgres user, unix socket only; fsync on, synchronous_commit on, as in production).
set -eu
bench=$1
bin=/usr/lib/postgresql/15/bin
d=$(mktemp -d)
chown postgres: "$d"
trap 'runuser -u postgres -- $bin/pg_ctl -D "$d/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$d"' EXIT
runuser -u postgres -- $bin/initdb -D "$d/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
runuser -u postgres -- $bin/pg_ctl -D "$d/data" -l "$d/pg.log" -w \
	-o "-c listen_addresses='' -c unix_socket_directories=$d" start >/dev/null
"$bench" "postgresql:///postgres?host=$d&user=postgres" "${BENCH_PG_N:-100000}" 2>/dev/null
# the fleet: several devsups on this one database (needs DEVSUP_BIN)
if [ -n "${DEVSUP_BIN:-}" ]; then
	node "$(dirname "$0")/fleet-bench.mjs" "postgresql:///postgres?host=$d&user=postgres"
fi
