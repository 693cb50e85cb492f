#!/usr/bin/env bash
# A real PostgreSQL on this machine, without Docker: the catalog of cluster mode, for the tests and for local
# development (issue 16).
#
#   docker/postgres-local.sh start    initdb (once), start on a loopback port, wait until it answers, print the URL
#   docker/postgres-local.sh stop     stop the server; its data stays, so `start` brings the same databases back
#   docker/postgres-local.sh status   running or not, and the URL (exit 0 only when it answers)
#   docker/postgres-local.sh clean    stop the server and delete its run folder (data, log, port)
#
# What it runs: Debian's PostgreSQL 15 (`apt-get install postgresql`, which `make install` does), with initdb
# and pg_ctl from /usr/lib/postgresql/15/bin, as an unprivileged user, listening on 127.0.0.1 only. The
# cluster is made with the C locale and UTF-8 (text sorts by code point, as in the SQLite catalog) and trust
# authentication for loopback connections: it is a local development and test server, not a production one.
#
# Settings (environment):
#   POSTGRES_PORT           port; default: the port of the previous start in this run folder, else a free one
#   POSTGRES_RUN_DIR        data, log, pid and port of this server; default ${TMPDIR:-/tmp}/mediasearch-postgres
#   POSTGRES_BIN            the folder of initdb/pg_ctl/postgres; default: the newest /usr/lib/postgresql/*/bin
#   POSTGRES_DB             the database made at the first start and named in the URL; default mediasearch
#   POSTGRES_START_TIMEOUT  seconds to wait for the server to answer; default 60
#   POSTGRES_FSYNC          on (default) or off: off only for throw-away test servers (faster, not crash-safe)
#   POSTGRES_RUN_USER       as root, the unprivileged user that runs the server; default mediasearch-pg
#                           (created with useradd when missing): PostgreSQL refuses to run as root
set -euo pipefail

RUN_DIR="${POSTGRES_RUN_DIR:-${TMPDIR:-/tmp}/mediasearch-postgres}"
START_TIMEOUT="${POSTGRES_START_TIMEOUT:-60}"
RUN_USER="${POSTGRES_RUN_USER:-mediasearch-pg}"
DB_NAME="${POSTGRES_DB:-mediasearch}"
FSYNC="${POSTGRES_FSYNC:-on}"

say() { echo "postgres-local: $*" >&2; }
die() { say "error: $*"; exit 1; }

bin_dir() {
  if [[ -n "${POSTGRES_BIN:-}" ]]; then echo "$POSTGRES_BIN"; return; fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -z "$found" ]] && command -v pg_ctl >/dev/null 2>&1; then found="$(dirname "$(command -v pg_ctl)")"; fi
  [[ -n "$found" && -x "$found/pg_ctl" ]] \
    || die "PostgreSQL is not installed; run 'make install' (it installs Debian's postgresql) or 'apt-get install postgresql', or set POSTGRES_BIN"
  echo "$found"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_busy() {  # a listener holds it
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

as_server_user() {  # the command prefix that runs the server as its user (as root: the unprivileged one)
  if [[ $EUID -ne 0 ]]; then
    return 0
  elif command -v setpriv >/dev/null 2>&1; then
    echo setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups
  else
    echo runuser -u "$RUN_USER" --
  fi
}

ensure_server_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    command -v useradd >/dev/null 2>&1 || die "as root the server must run as an unprivileged user: create one and set POSTGRES_RUN_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER" \
      || die "could not create the user '$RUN_USER'; create an unprivileged user and set POSTGRES_RUN_USER"
    say "created the unprivileged user '$RUN_USER' (PostgreSQL refuses to run as root)"
  fi
}

port() { cat "$RUN_DIR/port"; }
url() { echo "postgresql://$(db_user)@127.0.0.1:$(port)/$DB_NAME"; }
db_user() { if [[ $EUID -eq 0 ]]; then echo "$RUN_USER"; else id -un; fi; }

answers() { "$(bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$(port)" -t 2 2>/dev/null; }

pid_alive() {
  [[ -f "$RUN_DIR/data/postmaster.pid" ]] && kill -0 "$(head -n 1 "$RUN_DIR/data/postmaster.pid")" 2>/dev/null
}

run_as() {
  local prefix
  prefix="$(as_server_user)"
  # shellcheck disable=SC2086  # the prefix is words
  $prefix "$@"
}

log_tail() {
  say "last lines of $RUN_DIR/postgres.log:"
  tail -n 30 "$RUN_DIR/postgres.log" >&2 || true
}

init_cluster() {
  [[ -f "$RUN_DIR/data/PG_VERSION" ]] && return 0
  local bin
  bin="$(bin_dir)"
  say "initdb: a new cluster in $RUN_DIR/data (locale C, UTF-8, trust on loopback)"
  rm -rf "$RUN_DIR/data" && mkdir -p "$RUN_DIR/data"
  [[ $EUID -eq 0 ]] && chown -R "$RUN_USER" "$RUN_DIR"
  if ! run_as "$bin/initdb" -D "$RUN_DIR/data" -U "$(db_user)" --auth=trust --locale=C --encoding=UTF8 \
      >"$RUN_DIR/initdb.log" 2>&1; then
    tail -n 20 "$RUN_DIR/initdb.log" >&2
    die "initdb failed (see above); run '$0 clean' and try again, or check that $RUN_DIR is writable by $(db_user)"
  fi
}

start() {
  need_python
  local bin
  bin="$(bin_dir)"
  mkdir -p "$RUN_DIR"
  if [[ -f "$RUN_DIR/port" ]] && pid_alive && answers; then
    say "already running at $(url)"
    url
    return 0
  fi
  pid_alive && die "a server is running from $RUN_DIR but does not answer; run '$0 stop' first"
  ensure_server_user
  init_cluster
  local port="${POSTGRES_PORT:-}"
  if [[ -z "$port" && -f "$RUN_DIR/port" ]]; then port="$(cat "$RUN_DIR/port")"; fi
  if [[ -z "$port" ]]; then port="$(free_port)"; fi
  if port_busy "$port"; then
    die "port $port is in use; set POSTGRES_PORT to a free port (or run '$0 clean' to forget the previous one)"
  fi
  echo "$port" >"$RUN_DIR/port"
  mkdir -p "$RUN_DIR/socket"
  [[ $EUID -eq 0 ]] && chown -R "$RUN_USER" "$RUN_DIR"
  say "starting PostgreSQL ($("$bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port (data in $RUN_DIR/data, fsync $FSYNC)"
  local started=$SECONDS
  exec 8>&-  # the server must not hold this script's lock
  if ! run_as "$bin/pg_ctl" -D "$RUN_DIR/data" -l "$RUN_DIR/postgres.log" -w -t "$START_TIMEOUT" \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$RUN_DIR/socket -c fsync=$FSYNC -c max_connections=200" \
      start >/dev/null 2>&1; then
    log_tail
    die "PostgreSQL did not start within ${START_TIMEOUT}s (see the log above); raise POSTGRES_START_TIMEOUT on a slow machine"
  fi
  local waited=0
  until answers; do
    ((waited < START_TIMEOUT)) || { log_tail; die "PostgreSQL does not answer on 127.0.0.1:$port"; }
    sleep 0.5; waited=$((waited + 1))
  done
  if ! run_as "$bin/psql" -h 127.0.0.1 -p "$port" -U "$(db_user)" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" 2>/dev/null | grep -q 1; then
    run_as "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$(db_user)" "$DB_NAME" \
      || die "could not create the database '$DB_NAME'; see $RUN_DIR/postgres.log"
  fi
  say "up after $((SECONDS - started))s"
  url
}

need_python() { command -v python3 >/dev/null 2>&1 || die "python3 is needed to pick a free port"; }

stop_server() {
  pid_alive || return 0
  say "stopping the server of $RUN_DIR"
  run_as "$(bin_dir)/pg_ctl" -D "$RUN_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || { say "pg_ctl stop failed; killing the postmaster"; kill -KILL "$(head -n 1 "$RUN_DIR/data/postmaster.pid")" 2>/dev/null || true; }
}

lock_run_dir() {  # one start, stop or clean at a time per run folder
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/.lock"
  flock 8
}

case "${1:-}" in
  start) lock_run_dir; start ;;
  stop) lock_run_dir; stop_server; say "stopped (data kept in $RUN_DIR/data)" ;;
  status)
    if [[ -f "$RUN_DIR/port" ]] && pid_alive && answers; then say "running"; url; else say "not running"; exit 1; fi ;;
  clean) lock_run_dir; stop_server; rm -rf "$RUN_DIR"; say "removed $RUN_DIR" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
