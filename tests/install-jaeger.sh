#!/usr/bin/env bash
# Builds Jaeger (v2, the all-in-one) of the version internal/backing runs
# into $1 (default: $AGENTCHAT_CACHE/bin) as jaeger-<version>, once.
# `go install module@version` refuses it (its go.mod has a replace
# directive), so it is built as a tool of a throwaway module.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^const JaegerVersion = "\(.*\)"$/\1/p' "$root/internal/backing/jaeger.go")
bin=${1:-${AGENTCHAT_CACHE:-$HOME/.cache/agentchat}/bin}
out=$bin/jaeger-$version
[[ -x $out ]] && { echo "jaeger: $out"; exit 0; }
echo "building jaeger $version into $bin (several minutes, once)"
mkdir -p "$bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# The repository's own GOFLAGS (e.g. -mod=vendor) are not this module's.
export GOFLAGS=-buildvcs=false GOWORK=off
go mod init jaegerbuild >/dev/null 2>&1
go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$version"
go build -o "$out.tmp$$" github.com/jaegertracing/jaeger/cmd/jaeger # $$: two runs building at once do not share it
mv "$out.tmp$$" "$out"
echo "jaeger: $out"
