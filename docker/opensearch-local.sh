#!/usr/bin/env bash
# A real single-node OpenSearch on this machine, without Docker: for the tests and for local development.
#
#   docker/opensearch-local.sh start    download (once), start, wait for yellow health, print the URL
#   docker/opensearch-local.sh stop     stop the node; its data stays, so `start` brings the same index back
#   docker/opensearch-local.sh status   running or not, the URL and the cluster health (exit 0 only when up)
#   docker/opensearch-local.sh clean    stop the node and delete its run folder (data, logs, config)
#
# A cluster: `--nodes 3` (any N >= 2) before or after the command starts N nodes on loopback HTTP and
# transport ports, one cluster name, discovery seeded with every node's transport port and
# cluster.initial_cluster_manager_nodes set; `start` waits for green health with all N nodes and prints
# their URLs comma-separated (a value for MEDIASEARCH_OPENSEARCH_URL). The run folder remembers the
# node count, so `status`, `stop` and `clean` handle every node without the option. For failover tests:
#   docker/opensearch-local.sh kill-node N    SIGKILL node-N (its data stays)
#   docker/opensearch-local.sh start-node N   start node-N again and wait until it has joined the cluster
#   docker/opensearch-local.sh manager        the name of the elected cluster-manager node
#
# TLS and basic auth: `--security` installs the opensearch-security plugin (Maven Central, the same
# version as the server) into a copy of the distribution with its demo configuration (self-signed
# certificates, offline): the node then answers https:// with the user `admin` and the password
# OPENSEARCH_ADMIN_PASSWORD, and the CA that signed its certificate is <run folder>/config/root-ca.pem
# (node-1/config/root-ca.pem for a cluster); `status` prints it.
#
# What it runs: the OpenSearch integ-test distribution (the plain zip published to Maven Central, security
# off, no bundled JDK) plus the analysis-common module from Maven Central (the integ-test zip ships only the
# transport module, and the `english` analyzer lives in analysis-common). Both are fetched with Maven, so
# they sit in ~/.m2 and later runs download nothing.
#
# Settings (environment):
#   OPENSEARCH_VERSION        2.19.4
#   OPENSEARCH_PORT           HTTP port; default: the port of the previous start in this run folder, else a free one.
#                             For a cluster: node-1's, node-K gets OPENSEARCH_PORT+K-1
#   OPENSEARCH_TRANSPORT_PORT a cluster's first transport port (node-K: +K-1); default: free ones
#   OPENSEARCH_ADMIN_PASSWORD with --security, the password of the user admin; default Mediasearch-Adm1n!
#   OPENSEARCH_HEAP           512m (-Xms and -Xmx)
#   OPENSEARCH_RUN_DIR        data, logs, config, pid and port of this node; default ${TMPDIR:-/tmp}/mediasearch-opensearch
#   OPENSEARCH_START_TIMEOUT  seconds to wait for yellow health (a cluster: green); default 120, 180 for a cluster
#   MEDIASEARCH_CACHE         where the distribution is unpacked; default ~/.cache/mediasearch, or
#                             /var/cache/mediasearch as root (root's home is not readable by the node's user)
#   OPENSEARCH_RUN_USER       as root, the unprivileged user that runs the node; default opensearch-local
#                             (created with useradd when missing): OpenSearch refuses to run as root
set -euo pipefail

VERSION="${OPENSEARCH_VERSION:-2.19.4}"
HEAP="${OPENSEARCH_HEAP:-512m}"
RUN_DIR="${OPENSEARCH_RUN_DIR:-${TMPDIR:-/tmp}/mediasearch-opensearch}"
RUN_USER="${OPENSEARCH_RUN_USER:-opensearch-local}"
DEFAULT_ADMIN_PASSWORD="Mediasearch-Adm1n!"
ADMIN_PASSWORD="${OPENSEARCH_ADMIN_PASSWORD:-$DEFAULT_ADMIN_PASSWORD}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
if [[ $EUID -eq 0 ]]; then
  CACHE="${MEDIASEARCH_CACHE:-/var/cache/mediasearch}"
else
  CACHE="${MEDIASEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediasearch}"
fi
PLAIN_DIST="$CACHE/opensearch-$VERSION"
SECURE_DIST="$CACHE/opensearch-$VERSION-security"

say() { echo "opensearch-local: $*" >&2; }
die() { say "error: $*"; exit 1; }
usage() {
  echo "usage: $0 [--nodes N] [--security] start|stop|status|clean|manager|kill-node N|start-node N" >&2
  exit 2
}

# --- the command line: the command, its node number, and the options anywhere
COMMAND="" NODE_ARG="" NODES_OPT="" SECURITY_OPT=0
while (($#)); do
  case "$1" in
    --nodes) [[ $# -ge 2 ]] || usage; NODES_OPT="$2"; shift 2 ;;
    --nodes=*) NODES_OPT="${1#--nodes=}"; shift ;;
    --security) SECURITY_OPT=1; shift ;;
    -*) usage ;;
    *) if [[ -z "$COMMAND" ]]; then COMMAND="$1"; elif [[ -z "$NODE_ARG" ]]; then NODE_ARG="$1"; else usage; fi; shift ;;
  esac
done
if [[ -n "$NODES_OPT" && ! "$NODES_OPT" =~ ^[1-9]$ ]]; then
  die "--nodes takes a node count from 1 to 9, not '$NODES_OPT'"
fi

# The run folder remembers what it holds: the node count and whether the security plugin is on.
NODES=1
if [[ -f "$RUN_DIR/nodes" ]]; then NODES="$(cat "$RUN_DIR/nodes")"; fi
SECURITY=0
if [[ -f "$RUN_DIR/security" ]]; then SECURITY=1; fi
if [[ "$COMMAND" == start ]]; then
  if [[ -n "$NODES_OPT" ]]; then
    if [[ -d "$RUN_DIR" && "$NODES_OPT" != "$NODES" && ( -d "$RUN_DIR/data" || -d "$RUN_DIR/node-1" ) ]]; then
      die "$RUN_DIR holds a run of $NODES node(s), not $NODES_OPT; run '$0 clean' first or set OPENSEARCH_RUN_DIR to another folder"
    fi
    NODES="$NODES_OPT"
  fi
  if ((SECURITY_OPT)); then SECURITY=1; fi
fi
START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-$((NODES > 1 ? 180 : 120))}"
DIST="$PLAIN_DIST"
if ((SECURITY)); then DIST="$SECURE_DIST"; fi
SCHEME=http
if ((SECURITY)); then SCHEME=https; fi

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}

node_dir() {  # the folder of node K: the run folder itself for a single node
  if ((NODES == 1)); then echo "$RUN_DIR"; else echo "$RUN_DIR/node-$1"; fi
}

node_name() {
  if ((NODES == 1)); then echo local-1; else echo "node-$1"; fi
}

pid_alive() {  # node folder
  [[ -f "$1/pid" ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

url() { echo "$SCHEME://127.0.0.1:$(cat "$1/port")"; }

urls() {  # every node's URL, comma-separated
  local out="" k
  for ((k = 1; k <= NODES; k++)); do out+="${out:+,}$(url "$(node_dir "$k")")"; done
  echo "$out"
}

request() {  # node folder, path: the node's answer; fails when it does not answer 2xx
  local auth=()
  if ((SECURITY)); then auth=(--cacert "$1/config/root-ca.pem" -u "admin:$ADMIN_PASSWORD"); fi
  curl -fsS --max-time 5 "${auth[@]}" "$(url "$1")$2" 2>/dev/null
}

health() {  # node folder: the cluster health JSON, once yellow (a cluster: green with every node)
  if ((NODES == 1)); then
    request "$1" "/_cluster/health?wait_for_status=yellow&timeout=2s"
  else
    request "$1" "/_cluster/health?wait_for_status=green&wait_for_nodes=$NODES&timeout=2s"
  fi
}

any_alive() {  # the folder of the first node that answers
  local k nd
  for ((k = 1; k <= NODES; k++)); do
    nd="$(node_dir "$k")"
    if pid_alive "$nd" && request "$nd" / >/dev/null; then echo "$nd"; return 0; fi
  done
  return 1
}

free_ports() {  # N distinct free loopback ports
  python3 -c 'import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
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
  [[ -f "$PLAIN_DIST/.complete" ]] || install_unlocked
  if ((SECURITY)) && [[ ! -f "$SECURE_DIST/.complete" ]]; then install_security_unlocked; fi
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
  cat >"$home/modules/analysis-common/plugin-descriptor.properties" <<EOT
description=Adds "built in" analyzers to OpenSearch.
version=$VERSION
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version=$VERSION
extended.plugins=
has.native.controller=false
custom.foldername=
EOT
  chmod -R a+rX "$staging"
  rm -rf "$PLAIN_DIST"
  mv "$home" "$PLAIN_DIST"
  rm -rf "$staging"
  touch "$PLAIN_DIST/.complete"
  say "OpenSearch $VERSION unpacked in $PLAIN_DIST"
}

install_security_unlocked() {
  # The plugin's version is the server's plus a fourth number; it must match the server exactly.
  local plugin="opensearch-security-$VERSION.0" staging="$CACHE/.staging-security-$$" started=$SECONDS java
  [[ -f "$CACHE/downloads/$plugin.zip" ]] || fetch "org.opensearch.plugin:opensearch-security:$VERSION.0:zip"
  java="$(java_home)"
  rm -rf "$staging" && cp -r "$PLAIN_DIST" "$staging" && rm -f "$staging/.complete"
  say "installing the security plugin $plugin and its demo configuration (self-signed certificates)"
  if ! JAVA_HOME="$java" OPENSEARCH_JAVA_HOME="$java" "$staging/bin/opensearch-plugin" install --batch \
      "file://$CACHE/downloads/$plugin.zip" >"$CACHE/downloads/security-install.log" 2>&1; then
    tail -n 20 "$CACHE/downloads/security-install.log" >&2
    rm -rf "$staging"
    die "opensearch-plugin could not install $plugin (see above); the plugin must have the server's version ($VERSION)"
  fi
  chmod +x "$staging/plugins/opensearch-security/tools/"*.sh
  # -y: no questions, -i: initialise the security index from the demo files at first start, -s: no
  # changes to an already configured node. Offline: it only writes files.
  if ! OPENSEARCH_INITIAL_ADMIN_PASSWORD="$DEFAULT_ADMIN_PASSWORD" JAVA_HOME="$java" OPENSEARCH_JAVA_HOME="$java" \
      bash "$staging/plugins/opensearch-security/tools/install_demo_configuration.sh" -y -i -s \
      >>"$CACHE/downloads/security-install.log" 2>&1; then
    tail -n 20 "$CACHE/downloads/security-install.log" >&2
    rm -rf "$staging"
    die "the security plugin's demo configuration failed (see above)"
  fi
  chmod -R a+rX "$staging"
  rm -rf "$SECURE_DIST"
  mv "$staging" "$SECURE_DIST"
  touch "$SECURE_DIST/.complete"
  say "security plugin installed in $SECURE_DIST in $((SECONDS - started))s"
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

write_config() {  # node number: its opensearch.yml, from the ports in its folder
  local k="$1" nd conf name
  nd="$(node_dir "$k")"
  conf="$nd/config"
  name="$(node_name "$k")"
  rm -rf "$conf" && cp -r "$DIST/config" "$conf"
  cat >>"$conf/opensearch.yml" <<EOT

# --- written by docker/opensearch-local.sh
cluster.name: mediasearch-local
node.name: $name
network.host: 127.0.0.1
http.port: $(cat "$nd/port")
path.data: $nd/data
path.logs: $nd/logs
bootstrap.memory_lock: false
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: false
EOT
  if ((NODES == 1)); then
    printf 'transport.port: 0\ndiscovery.type: single-node\n' >>"$conf/opensearch.yml"
  else
    local seeds="" managers="" j
    for ((j = 1; j <= NODES; j++)); do
      seeds+="${seeds:+, }127.0.0.1:$(cat "$(node_dir "$j")/tport")"
      managers+="${managers:+, }node-$j"
    done
    cat >>"$conf/opensearch.yml" <<EOT
transport.port: $(cat "$nd/tport")
discovery.seed_hosts: [$seeds]
cluster.initial_cluster_manager_nodes: [$managers]
EOT
  fi
  if ((SECURITY)) && [[ "$ADMIN_PASSWORD" != "$DEFAULT_ADMIN_PASSWORD" ]]; then
    set_admin_password "$conf"
  fi
  # Heap, and absolute paths for what the stock options write relative to the working folder.
  sed -i -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" \
    -e "s#file=logs/gc.log#file=$nd/logs/gc.log#" \
    -e "s#HeapDumpPath=data#HeapDumpPath=$nd/data#" \
    -e "s#ErrorFile=logs/#ErrorFile=$nd/logs/#" "$conf/jvm.options"
}

set_admin_password() {  # config folder: the admin user's bcrypt hash for OPENSEARCH_ADMIN_PASSWORD
  local hash
  hash="$(OPENSEARCH_JAVA_HOME="$(java_home)" JAVA_HOME="$(java_home)" \
    bash "$DIST/plugins/opensearch-security/tools/hash.sh" -p "$ADMIN_PASSWORD" 2>/dev/null | tail -n 1)"
  [[ "$hash" == '$2'* ]] || die "could not hash OPENSEARCH_ADMIN_PASSWORD with the security plugin's hash.sh"
  python3 - "$1/opensearch-security/internal_users.yml" "$hash" <<'EOT'
import re, sys
path, digest = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'(?m)^(admin:\n  hash: ).*$', lambda m: m.group(1) + '"' + digest + '"', text, count=1)
open(path, "w").write(text)
EOT
}

log_tail() {  # node folder
  local log="$1/logs/mediasearch-local.log"
  [[ -f "$log" ]] || log="$1/logs/console.log"
  say "last lines of $log:"
  tail -n 40 "$log" >&2 || true
}

launch() {  # node number: start the node's process (ports and config are in its folder)
  local k="$1" nd java prefix
  nd="$(node_dir "$k")"
  mkdir -p "$nd"/{data,logs,tmp}
  write_config "$k"
  [[ $EUID -eq 0 ]] && chown -R "$RUN_USER" "$nd"
  java="$(java_home)"
  prefix="$(as_node_user)"
  say "starting $(node_name "$k") of OpenSearch $VERSION on 127.0.0.1:$(cat "$nd/port") (heap $HEAP, data in $nd/data)"
  (
    cd "$nd"
    export OPENSEARCH_PATH_CONF="$nd/config" OPENSEARCH_TMPDIR="$nd/tmp" OPENSEARCH_JAVA_HOME="$java"
    unset JAVA_TOOL_OPTIONS OPENSEARCH_JAVA_OPTS
    exec 8>&- 9>&-  # the node must not hold this script's locks
    # shellcheck disable=SC2086  # the prefix is words
    exec setsid $prefix "$DIST/bin/opensearch" </dev/null >"$nd/logs/console.log" 2>&1
  ) &
  echo $! >"$nd/pid"
}

assign_ports() {  # each node's HTTP and transport ports: kept from the previous start, else chosen
  local k nd http=() transport=() free
  if ((NODES == 1)) && [[ -n "${OPENSEARCH_PORT:-}" ]]; then  # a single node: the variable wins, as before
    mkdir -p "$RUN_DIR" && echo "$OPENSEARCH_PORT" >"$RUN_DIR/port"
    return 0
  fi
  if [[ -f "$(node_dir 1)/port" ]] && { ((NODES == 1)) || [[ -f "$(node_dir 1)/tport" ]]; }; then
    if [[ -n "${OPENSEARCH_PORT:-}" && "$OPENSEARCH_PORT" != "$(cat "$(node_dir 1)/port")" ]]; then
      say "OPENSEARCH_PORT=$OPENSEARCH_PORT ignored: $RUN_DIR keeps port $(cat "$(node_dir 1)/port") (run '$0 clean' to change it)"
    fi
    return 0
  fi
  if ((NODES == 1)); then
    http=("${OPENSEARCH_PORT:-$(free_ports 1)}")
  else
    read -r -a free <<<"$(free_ports $((2 * NODES)))"
    for ((k = 1; k <= NODES; k++)); do
      if [[ -n "${OPENSEARCH_PORT:-}" ]]; then http+=($((OPENSEARCH_PORT + k - 1))); else http+=("${free[k - 1]}"); fi
      if [[ -n "${OPENSEARCH_TRANSPORT_PORT:-}" ]]; then transport+=($((OPENSEARCH_TRANSPORT_PORT + k - 1)))
      else transport+=("${free[NODES + k - 1]}"); fi
    done
  fi
  for ((k = 1; k <= NODES; k++)); do
    nd="$(node_dir "$k")"
    mkdir -p "$nd"
    echo "${http[k - 1]}" >"$nd/port"
    if ((NODES > 1)); then echo "${transport[k - 1]}" >"$nd/tport"; fi
  done
}

check_ports_free() {  # node number
  local nd p
  nd="$(node_dir "$1")"
  for p in "$(cat "$nd/port")" $( ((NODES > 1)) && cat "$nd/tport"); do
    if port_busy "$p"; then
      die "port $p of $(node_name "$1") is in use; set OPENSEARCH_PORT (and OPENSEARCH_TRANSPORT_PORT for a cluster) to free ports, after '$0 clean'"
    fi
  done
}

start() {
  need curl "apt-get install curl"
  need python3 "it picks free ports"
  local k nd all_alive=1
  for ((k = 1; k <= NODES; k++)); do pid_alive "$(node_dir "$k")" || all_alive=0; done
  if ((all_alive)) && health "$(node_dir 1)" >/dev/null; then
    say "already running at $(urls)"
    urls
    return 0
  fi
  if ((NODES == 1)) && pid_alive "$RUN_DIR"; then
    die "a node is running from $RUN_DIR (pid $(cat "$RUN_DIR/pid")) but does not answer; run '$0 stop' first"
  fi
  install_distribution
  ensure_node_user
  mkdir -p "$RUN_DIR"
  if ((NODES > 1)); then echo "$NODES" >"$RUN_DIR/nodes"; else rm -f "$RUN_DIR/nodes"; fi
  [[ $EUID -eq 0 ]] && chown "$RUN_USER" "$RUN_DIR"  # the nodes' user must reach its folders
  if ((SECURITY)); then touch "$RUN_DIR/security"; else rm -f "$RUN_DIR/security"; fi
  assign_ports
  for ((k = 1; k <= NODES; k++)); do
    pid_alive "$(node_dir "$k")" || check_ports_free "$k"
  done
  for ((k = 1; k <= NODES; k++)); do
    pid_alive "$(node_dir "$k")" || launch "$k"
  done
  local started=$SECONDS
  while ((SECONDS - started < START_TIMEOUT)); do
    for ((k = 1; k <= NODES; k++)); do
      nd="$(node_dir "$k")"
      if ! pid_alive "$nd"; then
        log_tail "$nd"
        stop_all
        die "$(node_name "$k") exited during start-up (see the log above)"
      fi
    done
    if health "$(node_dir 1)" >/dev/null; then
      say "up after $((SECONDS - started))s: $(health "$(node_dir 1)")"
      urls
      return 0
    fi
    sleep 1
  done
  for ((k = 1; k <= NODES; k++)); do log_tail "$(node_dir "$k")"; done
  stop_all
  if ((NODES == 1)); then
    die "OpenSearch did not reach yellow health within ${START_TIMEOUT}s (see the log above); raise OPENSEARCH_START_TIMEOUT on a slow machine"
  fi
  die "the $NODES nodes did not form a green cluster within ${START_TIMEOUT}s (see the logs above); raise OPENSEARCH_START_TIMEOUT on a slow machine"
}

stop_node() {  # node folder
  local nd="$1" pid
  if ! pid_alive "$nd"; then
    rm -f "$nd/pid"
    return 0
  fi
  pid="$(cat "$nd/pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "node $pid did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$nd/pid"
}

stop_all() {  # every node, at the same time
  local k
  for ((k = NODES; k >= 1; k--)); do stop_node "$(node_dir "$k")" & done
  wait
}

node_number() {  # the N of kill-node/start-node, checked
  ((NODES > 1)) || die "$RUN_DIR holds no cluster; start one with '$0 --nodes 3 start'"
  [[ "$NODE_ARG" =~ ^[0-9]+$ ]] || NODE_ARG="${NODE_ARG#node-}"
  [[ "$NODE_ARG" =~ ^[0-9]+$ ]] && ((NODE_ARG >= 1 && NODE_ARG <= NODES)) \
    || die "name a node from 1 to $NODES (or node-1 to node-$NODES), not '$NODE_ARG'"
  echo "$NODE_ARG"
}

kill_node() {  # SIGKILL: no shutdown, as when a machine dies
  local k nd pid
  k="$(node_number)"
  nd="$(node_dir "$k")"
  pid_alive "$nd" || die "node-$k is not running; '$0 status' shows the nodes"
  pid="$(cat "$nd/pid")"
  kill -KILL "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$nd/pid"
  say "killed node-$k (pid $pid) with SIGKILL; its data stays in $nd/data"
}

start_node() {  # one node of the cluster again, with its ports and data; waits until it has joined
  local k nd started=$SECONDS
  k="$(node_number)"
  nd="$(node_dir "$k")"
  if pid_alive "$nd"; then
    say "node-$k is running already"
  else
    check_ports_free "$k"
    launch "$k"
  fi
  while ((SECONDS - started < START_TIMEOUT)); do
    if ! pid_alive "$nd"; then
      log_tail "$nd"
      die "node-$k exited during start-up (see the log above)"
    fi
    if request "$nd" "/_cluster/health?wait_for_nodes=$NODES&timeout=1s" >/dev/null; then
      say "node-$k joined after $((SECONDS - started))s: $(request "$nd" "/_cluster/health")"
      url "$nd"
      return 0
    fi
    sleep 0.5
  done
  log_tail "$nd"
  die "node-$k did not join the cluster within ${START_TIMEOUT}s (see the log above); raise OPENSEARCH_START_TIMEOUT on a slow machine"
}

manager() {
  local nd
  nd="$(any_alive)" || die "no node answers; '$0 status' shows them"
  request "$nd" "/_cat/cluster_manager?h=node" || die "no cluster-manager is elected at the moment; try again in a few seconds"
}

status() {
  local k nd alive=0 h
  if ((NODES > 1)); then
    for ((k = 1; k <= NODES; k++)); do
      nd="$(node_dir "$k")"
      if pid_alive "$nd"; then
        echo "node-$k running $(url "$nd") pid $(cat "$nd/pid")"
        alive=$((alive + 1))
      elif [[ -f "$nd/port" ]]; then
        echo "node-$k stopped ($(url "$nd"))"
      fi
    done
    ((alive)) || { echo "stopped (run folder $RUN_DIR)"; exit 3; }
    if nd="$(any_alive)" && h="$(request "$nd" "/_cluster/health")"; then
      echo "$h"
      ((SECURITY)) && echo "ca $(node_dir 1)/config/root-ca.pem user admin"
      ((alive == NODES)) || exit 1
      return 0
    fi
    echo "starting or unhealthy: no node answers"
    exit 1
  fi
  if pid_alive "$RUN_DIR" && h="$(health "$RUN_DIR")"; then
    echo "running $(url "$RUN_DIR") pid $(cat "$RUN_DIR/pid")"
    echo "$h"
    ((SECURITY)) && echo "ca $RUN_DIR/config/root-ca.pem user admin"
    return 0
  elif pid_alive "$RUN_DIR"; then
    echo "starting or unhealthy: pid $(cat "$RUN_DIR/pid"), $(url "$RUN_DIR") does not answer"
    exit 1
  else
    echo "stopped (run folder $RUN_DIR)"
    exit 3
  fi
}

lock_run_dir() {  # one start, stop or clean at a time per run folder
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/.lock"
  flock 8
}

case "$COMMAND" in
  start)
    lock_run_dir
    start
    ;;
  stop)
    lock_run_dir
    stop_all
    say "stopped (data kept in $RUN_DIR)"
    ;;
  status)
    status
    ;;
  clean)
    lock_run_dir
    stop_all
    rm -rf "$RUN_DIR"
    say "removed $RUN_DIR"
    ;;
  kill-node)
    lock_run_dir
    kill_node
    ;;
  start-node)
    lock_run_dir
    start_node
    ;;
  manager)
    manager
    ;;
  *)
    usage
    ;;
esac
