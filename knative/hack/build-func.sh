#!/usr/bin/env bash
# Builds the func CLI that docs/deploy.md names (knative.dev/func v0.44.0)
# into $AGENTCHAT_CACHE/bin/func-v0.44.0 (default ~/.cache/agentchat/bin),
# for make verify-deploy. About 3 minutes on an idle 2-core machine, once.
#
# `go install knative.dev/func/cmd/func@v0.44.0` does not work: func's own
# go.mod replaces github.com/imdario/mergo with dario.cat/mergo, and a
# replace counts only in the main module. A wrapper module requires func and
# repeats that replace.
set -euo pipefail
VERSION=v0.44.0
BIN=${AGENTCHAT_CACHE:-$HOME/.cache/agentchat}/bin
FUNC=$BIN/func-$VERSION
if [ -x "$FUNC" ]; then echo "func: $FUNC"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >go.mod <<MOD
module funccli

go 1.26

require knative.dev/func $VERSION

replace github.com/imdario/mergo => dario.cat/mergo v1.0.1
MOD
cat >tools.go <<'GO'
//go:build tools

package funccli

import _ "knative.dev/func/cmd/func"
GO
GOFLAGS=-mod=mod go mod tidy
mkdir -p "$BIN"
go build -o "$FUNC.tmp$$" knative.dev/func/cmd/func # $$: two runs building at once do not share it
mv "$FUNC.tmp$$" "$FUNC"
echo "func: $FUNC"
