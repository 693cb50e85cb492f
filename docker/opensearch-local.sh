#!/usr/bin/env bash
# A real single-node OpenSearch on this machine, without Docker: for the tests and for local development.
#
#   docker/opensearch-local.sh start    download (once), start, wait for yellow health, print the URL
#   docker/opensearch-local.sh stop     stop the node; its data stays, so `start` brings the same index back
#   docker/opensearch-local.sh status   running or not, the URL and the cluster health (exit 0 only when up)
#   docker/opensearch-local.sh clean    stop the node and delete its run folder (data, logs, config)
#
# What it runs: the OpenSearch integ-test distribution (the plain zip published to Maven Central, security
# off, no bundled JDK) plus the analysis-common module from Maven Central (the integ-test zip ships only the
# transport module, and the `english` analyzer lives in analysis-common). Both are fetched with Maven, so
# they sit in ~/.m2 and later runs download nothing.
#
# Settings (environment):
#   OPENSEARCH_VERSION        2.19.4
#   OPENSEARCH_PORT           HTTP port; default: the port of the previous start in this run folder, else a free one
#   OPENSEARCH_HEAP           512m (-Xms and -Xmx)
#   OPENSEARCH_RUN_DIR        data, logs, config, pid and port of this node; default ${TMPDIR:-/tmp}/mediasearch-opensearch
#   OPENSEARCH_START_TIMEOUT  seconds to wait for yellow health; default 120
#   MEDIASEARCH_CACHE         where the distribution is unpacked; default ~/.cache/mediasearch, or
#                             /var/cache/mediasearch as root (root's home is not readable by the node's user)
#   OPENSEARCH_RUN_USER       as root, the unprivileged user that runs the node; default opensearch-local
#                             (created with useradd when missing): OpenSearch refuses to run as root
set -euo pipefail

VERSION="${OPENSEARCH_VERSION:-2.19.4}"
HEAP="${OPENSEARCH_HEAP:-512m}"
RUN_DIR="${OPENSEARCH_RUN_DIR:-${TMPDIR:-/tmp}/mediasearch-opensearch}"
START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
RUN_USER="${OPENSEARCH_RUN_USER:-opensearch-local}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
if [[ $EUID -eq 0 ]]; then
  CACHE="${MEDIASEARCH_CACHE:-/var/cache/mediasearch}"
else
  CACHE="${MEDIASEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediasearch}"
fi
DIST="$CACHE/opensearch-$VERSION"

say() { echo "opensearch-local: $*" >&2; }
die() { say "error: $*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}

pid_alive() {
  [[ -f "$RUN_DIR/pid" ]] && kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null
}

url() { echo "http://127.0.0.1:$(cat "$RUN_DIR/port")"; }

health() {  # prints the cluster health JSON; fails when the node does not answer
  curl -fsS --max-time 5 "$(url)/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_busy() {  # a listener holds it (SO_REUSEADDR: connections in TIME_WAIT after a stop do not count)
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

java_home() {
  if [[ -n "${OPENSEARCH_JAVA_HOME:-}" ]]; then echo "$OPENSEARCH_JAVA_HOME"; return; fi
  if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME"; return; fi
  need java "install a Java 17 or 21 JDK (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

fetch() {  # groupId:artifactId:version:type -> the file, copied into $CACHE/downloads
  local artifact="$1" out="$CACHE/downloads"
  need mvn "install Maven (apt-get install maven); it fetches OpenSearch from Maven Central"
  mkdir -p "$out"
  say "fetching $artifact from Maven Central (cached in ~/.m2 afterwards)"
  if ! mvn -q -B "$DEPENDENCY_PLUGIN:copy" -Dartifact="$artifact" -DoutputDirectory="$out" >"$out/mvn.log" 2>&1; then
    tail -n 20 "$out/mvn.log" >&2
    die "Maven could not fetch $artifact (see above); check the version (OPENSEARCH_VERSION=$VERSION) and that Maven Central is reachable"
  fi
}

install_distribution() {
  [[ -f "$DIST/.complete" ]] && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.install.lock"
  flock 9  # two starts at once: one installs, the other waits and uses it
  [[ -f "$DIST/.complete" ]] || install_unlocked
  flock -u 9
  exec 9>&-
}

install_unlocked() {
  need unzip "apt-get install unzip"
  fetch "org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip"
  fetch "org.opensearch.plugin:analysis-common:$VERSION:jar"
  local staging="$CACHE/.staging-$$"
  rm -rf "$staging" && mkdir -p "$staging"
  unzip -q "$CACHE/downloads/opensearch-$VERSION.zip" -d "$staging"
  local home="$staging/opensearch-$VERSION"
  [[ -x "$home/bin/opensearch" ]] || chmod +x "$home"/bin/*
  # The module layout of a distribution: the jar plus its descriptor.
  mkdir -p "$home/modules/analysis-common"
  cp "$CACHE/downloads/analysis-common-$VERSION.jar" "$home/modules/analysis-common/"
  cat >"$home/modules/analysis-common/plugin-descriptor.properties" <<EOF
description=Adds "built in" analyzers to OpenSearch.
version=$VERSION
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version=$VERSION
extended.plugins=
has.native.controller=false
custom.foldername=
EOF
  chmod -R a+rX "$staging"
  rm -rf "$DIST"
  mv "$home" "$DIST"
  rm -rf "$staging"
  touch "$DIST/.complete"
  say "OpenSearch $VERSION unpacked in $DIST"
}

as_node_user() {  # the command prefix that runs the node as its user (as root: the unprivileged one)
  if [[ $EUID -ne 0 ]]; then
    return 0
  elif command -v setpriv >/dev/null 2>&1; then
    echo setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups
  else
    echo runuser -u "$RUN_USER" --
  fi
}

ensure_node_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    need useradd "as root the node must run as an unprivileged user: create one and set OPENSEARCH_RUN_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER" \
      || die "could not create the user '$RUN_USER'; create an unprivileged user and set OPENSEARCH_RUN_USER"
    say "created the unprivileged user '$RUN_USER' (OpenSearch refuses to run as root)"
  fi
}

write_config() {
  local port="$1" conf="$RUN_DIR/config"
  rm -rf "$conf" && cp -r "$DIST/config" "$conf"
  cat >>"$conf/opensearch.yml" <<EOF

# --- written by docker/opensearch-local.sh
cluster.name: mediasearch-local
node.name: local-1
network.host: 127.0.0.1
http.port: $port
transport.port: 0
discovery.type: single-node
path.data: $RUN_DIR/data
path.logs: $RUN_DIR/logs
bootstrap.memory_lock: false
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: false
EOF
  # Heap, and absolute paths for what the stock options write relative to the working folder.
  sed -i -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" \
    -e "s#file=logs/gc.log#file=$RUN_DIR/logs/gc.log#" \
    -e "s#HeapDumpPath=data#HeapDumpPath=$RUN_DIR/data#" \
    -e "s#ErrorFile=logs/#ErrorFile=$RUN_DIR/logs/#" "$conf/jvm.options"
}

log_tail() {
  local log="$RUN_DIR/logs/mediasearch-local.log"
  [[ -f "$log" ]] || log="$RUN_DIR/logs/console.log"
  say "last lines of $log:"
  tail -n 40 "$log" >&2 || true
}

start() {
  need curl "apt-get install curl"
  need python3 "it picks a free port"
  if pid_alive && health >/dev/null; then
    say "already running at $(url)"
    url
    return 0
  fi
  pid_alive && die "a node is running from $RUN_DIR (pid $(cat "$RUN_DIR/pid")) but does not answer; run '$0 stop' first"
  install_distribution
  ensure_node_user
  mkdir -p "$RUN_DIR"/{data,logs,tmp}
  local port="${OPENSEARCH_PORT:-}"
  if [[ -z "$port" && -f "$RUN_DIR/port" ]]; then port="$(cat "$RUN_DIR/port")"; fi
  if [[ -z "$port" ]]; then port="$(free_port)"; fi
  if port_busy "$port"; then
    die "port $port is in use; set OPENSEARCH_PORT to a free port (or run '$0 clean' to forget the previous one)"
  fi
  echo "$port" >"$RUN_DIR/port"
  write_config "$port"
  [[ $EUID -eq 0 ]] && chown -R "$RUN_USER" "$RUN_DIR"
  local java prefix
  java="$(java_home)"
  prefix="$(as_node_user)"
  say "starting OpenSearch $VERSION on 127.0.0.1:$port (heap $HEAP, data in $RUN_DIR/data)"
  (
    cd "$RUN_DIR"
    export OPENSEARCH_PATH_CONF="$RUN_DIR/config" OPENSEARCH_TMPDIR="$RUN_DIR/tmp" OPENSEARCH_JAVA_HOME="$java"
    unset JAVA_TOOL_OPTIONS OPENSEARCH_JAVA_OPTS
    exec 8>&- 9>&-  # the node must not hold this script's locks
    # shellcheck disable=SC2086  # the prefix is words
    exec setsid $prefix "$DIST/bin/opensearch" </dev/null >"$RUN_DIR/logs/console.log" 2>&1
  ) &
  echo $! >"$RUN_DIR/pid"
  local waited=0
  while ((waited < START_TIMEOUT)); do
    if ! pid_alive; then
      log_tail
      die "OpenSearch exited during start-up (see the log above)"
    fi
    if health >/dev/null; then
      say "up after ${waited}s: $(health)"
      url
      return 0
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log_tail
  stop_node
  die "OpenSearch did not reach yellow health within ${START_TIMEOUT}s (see the log above); raise OPENSEARCH_START_TIMEOUT on a slow machine"
}

stop_node() {
  if ! pid_alive; then
    rm -f "$RUN_DIR/pid"
    return 0
  fi
  local pid
  pid="$(cat "$RUN_DIR/pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "node $pid did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/pid"
}

lock_run_dir() {  # one start, stop or clean at a time per run folder
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/.lock"
  flock 8
}

case "${1:-}" in
  start)
    lock_run_dir
    start
    ;;
  stop)
    lock_run_dir
    stop_node
    say "stopped (data kept in $RUN_DIR)"
    ;;
  status)
    if pid_alive && h="$(health)"; then
      echo "running $(url) pid $(cat "$RUN_DIR/pid")"
      echo "$h"
    elif pid_alive; then
      echo "starting or unhealthy: pid $(cat "$RUN_DIR/pid"), $(url) does not answer"
      exit 1
    else
      echo "stopped (run folder $RUN_DIR)"
      exit 3
    fi
    ;;
  clean)
    lock_run_dir
    stop_node
    rm -rf "$RUN_DIR"
    say "removed $RUN_DIR"
    ;;
  *)
    echo "usage: $0 start|stop|status|clean" >&2
    exit 2
    ;;
esac
