#!/usr/bin/env bash
# Everything the images need that no registry serves here, each made once and cached; then the images themselves.
#
#   docker/images.sh          the Debian packages (podman, runc, debootstrap), the base image, the wheelhouse, the
#                             OpenSearch distribution, then `python docker/topology.py build` (the compose file's
#                             images; podman's layer cache makes a rebuild with no change take seconds)
#   docker/images.sh prepare  all of that but the image builds (what `docker compose build` needs first)
#
# 1. podman, runc, debootstrap from Debian when missing (as root, or through passwordless sudo). Podman runs with
#    docker/containers.conf: runc and cgroupfs (the default crun fails on this host's cgroups) and the host network.
# 2. mediasearch-base:bookworm: `debootstrap --variant=minbase bookworm` from the mirror apt uses here, imported
#    with `podman import`. Skipped when the image exists. BASE_IMAGE=debian:bookworm-slim uses a registry's instead.
# 3. docker/wheelhouse (ignored by git): `pip download` (+ `pip wheel`) of the project's dependencies and facenet-pytorch, so that
#    the image build installs with `pip install --no-index`, with requirements.txt (pyproject.toml's dependency
#    list). Skipped when it is complete (its stamp names that list). TORCH_INDEX adds an index for torch's CPU wheels when one is reachable.
# 4. docker/opensearch/dist (ignored by git): the distribution of docker/opensearch-local.sh's cache, hard-linked
#    (copied across file systems); the script downloads it from Maven Central when the cache lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PY:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/docker/containers.conf}"
BASE_IMAGE="${BASE_IMAGE:-localhost/mediasearch-base:bookworm}"
OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-2.19.4}"
WORK="${MEDIASEARCH_IMAGES_WORK:-/var/tmp/mediasearch-images}"

say() { echo "images: $*" >&2; }
die() { say "error: $*"; exit 1; }
stamp() { date +%s; }

packages() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing from Debian: ${missing[*]}"
  local sudo=""; [[ $EUID -eq 0 ]] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null
}

mirror() {  # the Debian mirror apt uses here (deb822 sources first, then sources.list)
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '{print $2}' | grep -v security | head -n1)"
  [[ -n "$uri" ]] || uri="$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1)"
  echo "${uri:-http://deb.debian.org/debian}"
}

base_image() {
  if [[ "$BASE_IMAGE" != localhost/mediasearch-base:* ]]; then
    say "base image $BASE_IMAGE (given; not built here)"; return 0
  fi
  if podman image exists "$BASE_IMAGE"; then say "base image $BASE_IMAGE exists"; return 0; fi
  local t0 rootfs="$WORK/rootfs" m; t0=$(stamp); m="$(mirror)"
  mkdir -p "$WORK" && rm -rf "$rootfs"
  say "debootstrap --variant=minbase bookworm from $m"
  debootstrap --variant=minbase bookworm "$rootfs" "$m" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  # apt inside the image uses the same mirror and the security archive.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $m bookworm main
deb $m bookworm-updates main
deb ${m%/debian}/debian-security bookworm-security main
EOF
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  say "base image $BASE_IMAGE made in $(( $(stamp) - t0 )) s"
}

wheelhouse() {
  local dir="$ROOT/docker/wheelhouse" want requirements
  requirements="$("$PY" -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))")"
  want="$(echo "$requirements" | sha256sum | cut -c1-16) ${TORCH_INDEX:-pypi}"
  if [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$want" ]]; then say "wheelhouse complete"; return 0; fi
  local t0; t0=$(stamp)
  mkdir -p "$dir"
  echo "$requirements" >"$dir/requirements.txt"
  say "filling docker/wheelhouse with pip wheel (PyPI${TORCH_INDEX:+ and $TORCH_INDEX})"
  local extra=(); [[ -n "${TORCH_INDEX:-}" ]] && extra=(--extra-index-url "$TORCH_INDEX")
  # pip download keeps the files already in the folder (a dependency change fetches only what changed); then
  # pip wheel, offline, turns any source distribution into a wheel, so the image build compiles nothing.
  "$PY" -m pip download --quiet --no-cache-dir "${extra[@]}" -d "$dir" -r "$dir/requirements.txt" setuptools wheel
  "$PY" -m pip download --quiet --no-cache-dir --no-deps -d "$dir" facenet-pytorch==2.6.0
  "$PY" -m pip wheel --quiet --no-index --find-links "$dir" -w "$dir" -r "$dir/requirements.txt"
  find "$dir" -maxdepth 1 \( -name '*.tar.gz' -o -name '*.zip' \) -delete
  echo "$want" >"$dir/.complete"
  say "wheelhouse filled in $(( $(stamp) - t0 )) s ($(du -sh "$dir" | cut -f1))"
}

opensearch_dist() {
  local cache dist="$ROOT/docker/opensearch/dist"
  if [[ $EUID -eq 0 ]]; then cache="${MEDIASEARCH_CACHE:-/var/cache/mediasearch}"; else cache="${MEDIASEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediasearch}"; fi
  local src="$cache/opensearch-$OPENSEARCH_VERSION"
  if [[ -f "$dist/.version" && "$(cat "$dist/.version")" == "$OPENSEARCH_VERSION" ]]; then say "OpenSearch $OPENSEARCH_VERSION distribution ready"; return 0; fi
  if [[ ! -f "$src/.complete" ]]; then  # let docker/opensearch-local.sh fetch and unpack it: start once, then clean
    say "fetching OpenSearch $OPENSEARCH_VERSION through docker/opensearch-local.sh"
    local run; run="$(mktemp -d)"
    OPENSEARCH_RUN_DIR="$run/node" OPENSEARCH_VERSION="$OPENSEARCH_VERSION" docker/opensearch-local.sh start >/dev/null
    OPENSEARCH_RUN_DIR="$run/node" docker/opensearch-local.sh clean >/dev/null
    rm -rf "$run"
  fi
  rm -rf "$dist"
  cp -al "$src" "$dist" 2>/dev/null || cp -a "$src" "$dist"
  rm -f "$dist/.complete"
  echo "$OPENSEARCH_VERSION" >"$dist/.version"
}

packages
base_image
wheelhouse
opensearch_dist
[[ "${1:-}" == prepare ]] && exit 0
BASE_IMAGE="$BASE_IMAGE" "$PY" docker/topology.py build
