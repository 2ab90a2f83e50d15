#!/bin/sh
# The README's first command, on Debian 12 as root: installs what is missing
# (scripts/setup.sh), builds (npm ci), starts berthd, gets a busybox image — pulled from
# Docker Hub when a registry answers, else made offline from Debian's busybox-static with
# `berth import` — and runs a first container: `berth run --rm busybox echo hello`.
#
#   scripts/quickstart.sh          ends by stopping the berthd it started and removing what
#                                  that berthd made on the host (bridge, nftables table,
#                                  cgroup); the images stay in /var/lib/berth
#   scripts/quickstart.sh --keep   leaves berthd running (it says how to stop it)
#
# A berthd that was already running is used and left alone.
set -eu

keep=false
case "${1:-}" in
  --keep) keep=true ;;
  "") ;;
  *) echo "usage: scripts/quickstart.sh [--keep]" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
say() { printf '\n== quickstart: %s\n' "$*"; }

say "packages (scripts/setup.sh)"
bash scripts/setup.sh

# npm ci builds the native parts, the TypeScript and the CLI bundle; skipped when this
# checkout's node_modules already match package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/src/cli/main.js ]; then
  say "build (npm ci)"
  npm ci
fi

berth() { "$top/bin/berth" "$@"; }
exec_root=${BERTH_EXEC_ROOT:-/run/berth}
data_root=${BERTH_DATA_ROOT:-/var/lib/berth}
started=false
if [ -z "${BERTH_HOST:-}${DOCKER_HOST:-}" ] && [ ! -S "$exec_root/berth.sock" ]; then
  started=true
fi

say "berthd (berth starts it when its socket $exec_root/berth.sock is absent)"
berth version --format 'berth {{.Client.Version}}, daemon {{.Server.Version}} (API {{.Server.APIVersion}})'

stop_started() {
  [ "$started" = true ] || return 0
  pid=$(cat "$exec_root/berthd.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  # What berthd leaves on a normal stop (as dockerd leaves docker0): the default bridge and
  # the nftables table, through the network library's own teardown; then its cgroup parent.
  BERTH_DATA_ROOT=$data_root BERTH_EXEC_ROOT=$exec_root node --input-type=module -e '
    const { createNetworkManager } = await import(process.cwd() + "/dist/src/network/index.js");
    const m = await createNetworkManager({ dataRoot: process.env.BERTH_DATA_ROOT, execRoot: process.env.BERTH_EXEC_ROOT });
    await m.teardown();'
  for d in /sys/fs/cgroup/berthd /sys/fs/cgroup/*/berthd; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  echo "quickstart: stopped the berthd it started (pid $pid); any berth command starts it again, or: bin/berthd &"
}
if [ "$keep" = false ]; then trap stop_started EXIT; fi

pulled=false
if berth image inspect busybox >/dev/null 2>&1; then
  say "image: busybox is already here"
  pulled=true
else
  say "image: busybox from Docker Hub"
  if timeout 120 "$top/bin/berth" pull busybox; then pulled=true; fi
fi
if [ "$pulled" = false ]; then
  say "image: no registry answered; busybox made offline from /bin/busybox (busybox-static)"
  rootfs=$(mktemp -d /tmp/berth-quickstart-XXXXXX)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
  tar -C "$rootfs" -cf "$rootfs.tar" .
  berth import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$rootfs.tar" busybox:latest
  rm -rf "$rootfs" "$rootfs.tar"
fi

say "a first container: berth run --rm busybox echo hello"
berth run --rm busybox echo hello

if [ "$keep" = true ] && [ "$started" = true ]; then
  echo "quickstart: berthd keeps running (pid $(cat "$exec_root/berthd.pid")); stop it with: kill \$(cat $exec_root/berthd.pid)"
fi
say "done. The whole test suite: npm test"
