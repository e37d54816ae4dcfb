#!/usr/bin/env bash
# Builds a kube-apiserver (Kubernetes v1.32.4) into $AGENTCHAT_CACHE/bin
# (default ~/.cache/agentchat/bin), for TestServerSideApply in knative/:
# the overlays are then applied to a real API server with Knative's CRDs,
# which checks them against the real schemas and field validation. No
# container engine or cluster is needed; etcd comes from Debian's
# etcd-server package (apt-get install -y etcd-server).
#
# k8s.io/kubernetes is not meant to be imported: a wrapper module requires
# it and replaces each of its staging modules with the published v0.32.4.
# About 3 minutes on an idle 2-core machine (10 on a busy one), 135 MB.
set -euo pipefail
VERSION=1.32.4
BIN=${AGENTCHAT_CACHE:-$HOME/.cache/agentchat}/bin
if [ -x "$BIN/kube-apiserver" ]; then echo "kube-apiserver: $BIN/kube-apiserver"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mod=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
	printf 'module kapi\n\ngo 1.24\n\nrequire k8s.io/kubernetes v%s\n\n' "$VERSION"
	grep '=> ./staging' "$mod" | awk -v v="v0.${VERSION#1.}" '{print "replace " $1 " => " $1 " " v}'
} > go.mod
cat > main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
GOFLAGS=-mod=mod go mod tidy
mkdir -p "$BIN"
go build -o "$BIN/kube-apiserver" .
echo "kube-apiserver: $BIN/kube-apiserver"
