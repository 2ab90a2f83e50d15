#!/bin/sh
# Bundles the berth CLI (after tsc has written dist/src/cli) into one CommonJS file,
# dist/src/cli/berth.cjs, and builds a V8 startup snapshot of it, dist/src/cli/berth.blob,
# in which the modules of the most used commands are already evaluated (src/cli/entry.ts).
# bin/berth runs from the snapshot, else the bundle, else the separate modules (docs/cli.md).
# Without esbuild (an install without devDependencies) it leaves the modules alone.
set -eu
cd "$(dirname "$0")/.."
out=dist/src/cli
rm -f $out/berth.cjs $out/berth.blob $out/berth.node
if [ ! -x node_modules/.bin/esbuild ]; then
  echo "build-cli: esbuild is not installed (npm ci installs it); berth runs from the separate modules" >&2
  exit 0
fi
# Next to main.js, so that paths from import.meta.url (connect.ts finds bin/berthd from it)
# are the same; import.meta.url becomes the bundle's own file URL. Whitespace and syntax are
# minified (a smaller heap in the snapshot), names are kept for stack traces (BERTH_DEBUG).
node_modules/.bin/esbuild $out/entry.js --bundle --platform=node --format=cjs --target=node20 \
  --minify-whitespace --minify-syntax \
  --outfile=$out/berth.cjs --log-level=warning \
  --banner:js="const __berthModuleUrl = require('node:url').pathToFileURL(__filename).href;" \
  --define:import.meta.url=__berthModuleUrl
# V8 options of the snapshot: node refuses a blob unless it runs with the options that built
# it, so bin/berth reads them back from berth.node. --no-rehash-snapshot: the heap's hash
# tables keep the blob's (random, per build) hash seed instead of being rebuilt with a new
# one at every start; --no-sparkplug: no baseline compiles in a run of a few ms (TurboFan
# still optimises long runs). docs/cli.md, "Start-up", has the measurements.
flags="--no-rehash-snapshot --no-sparkplug"
# The snapshot only works with the node binary that built it: bin/berth checks berth.node.
# Kept only when a run from it answers, so bin/berth never tries a snapshot that fails.
# shellcheck disable=SC2086 # $flags are separate words
if node $flags --snapshot-blob $out/berth.blob --build-snapshot $out/berth.cjs &&
  { node $out/snapshot-code-cache.js $out/berth.blob || echo "build-cli: the snapshot keeps Node's code cache" >&2; } &&
  [ "$(node $flags --snapshot-blob $out/berth.blob -- --version)" = "$(node $out/berth.cjs --version)" ]; then
  printf '%s\n%s\n' "$(command -v node)" "$flags" >$out/berth.node
else
  echo "build-cli: node could not build the startup snapshot; berth runs from the bundle" >&2
  rm -f $out/berth.blob
fi
