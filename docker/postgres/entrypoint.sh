#!/bin/bash
# First start: initdb in $PGDATA, then the role and the database named by POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB (the official image's variables). Then PostgreSQL in the foreground on $PGLISTEN:$PGPORT.
set -euo pipefail
: "${POSTGRES_USER:=mediasearch}" "${POSTGRES_DB:=mediasearch}" "${PGLISTEN:=127.0.0.1}"
[[ -n "${POSTGRES_PASSWORD:-}" ]] || { echo "postgres-entrypoint: set POSTGRES_PASSWORD" >&2; exit 1; }
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
  psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -q \
    -v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: initialised $PGDATA (database $POSTGRES_DB, role $POSTGRES_USER)"
fi
exec postgres -D "$PGDATA" -c listen_addresses="$PGLISTEN" -c port="$PGPORT" -c unix_socket_directories=/tmp
