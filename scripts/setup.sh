#!/usr/bin/env bash
# Installs what Berth's build, tests and benchmarks need on Debian 12, as root.
# Idempotent: it runs `apt-get update` only when a package is missing.
#
#   sudo scripts/setup.sh && npm ci
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh: run as root (sudo scripts/setup.sh)" >&2
  exit 1
fi

packages=(
  # build: node-gyp compiles the addon and a static berth-init
  build-essential python3
  # fixtures and peers the tests and benchmarks run against
  busybox-static runc crun docker-registry skopeo umoci hyperfine
  # host tools the runtime, the network code and the leak check call
  nftables iproute2 util-linux procps
  # registry auth in the image tests (htpasswd, a token server's key), xattr checks
  apache2-utils openssl attr
  # --init: Debian's static tini is bind-mounted as the container's PID 1
  tini
  # the tests of `berth completion zsh`
  zsh
)
# Benchmarks only (`scripts/setup.sh --bench`): the peers Berth is measured against and
# the debootstrapped image of the pull benchmark.
if [ "${1:-}" = "--bench" ]; then
  packages+=(debootstrap podman docker.io)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "scripts/setup.sh: all packages present"
fi

# Node is not taken from Debian 12 (it ships 18); Berth needs 20.16 or newer.
if ! command -v node >/dev/null 2>&1; then
  echo "scripts/setup.sh: node is missing: install Node.js 20.16 or newer" >&2
  exit 1
fi
# 20.16: process.getBuiltinModule, which the CLI's startup snapshot relies on.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 16) ? 0 : 1)'; then
  echo "scripts/setup.sh: node $(node --version) is too old: Berth needs Node.js 20.16 or newer" >&2
  exit 1
fi
