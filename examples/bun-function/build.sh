#!/bin/sh
# Build the Bun function into bun/: Bun's Linux x64 binary from its npm package
# (@oven/bun-linux-x64), which compiles runtime.ts and itself into one executable named
# bootstrap. Measure it with:
#   coldbench run --function examples/bun-function/bun --runtime provided
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
version="${BUN_VERSION:-1.4.4}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@oven/bun-linux-x64@${version}" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$here/bun"
"$work/package/bin/bun" build --compile --minify "$here/runtime.ts" --outfile "$here/bun/bootstrap"
