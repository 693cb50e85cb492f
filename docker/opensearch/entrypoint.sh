#!/bin/bash
# Starts OpenSearch with every environment variable whose name has a dot (cluster.name, http.port, ...) passed
# as an -E setting, as the official image does, so that docker/docker-compose.yml configures the nodes the same way.
set -euo pipefail
settings=()
while IFS='=' read -r name value; do
  [[ "$name" == *.* ]] && settings+=("-E$name=$value")
done < <(env)
exec /usr/share/opensearch/bin/opensearch "${settings[@]}" "$@"
