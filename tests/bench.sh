#!/usr/bin/env bash
# tests/bench.sh NAME [ARGS]: make bench-pipeline (NAME pipeline) and make
# bench-fanout (NAME fanout). Starts the test command's services
# (tests/run.sh services: Redis, FerretDB on PostgreSQL, MinIO on free
# ports), runs cmd/benchNAME against them with ARGS (e.g. -saturation 5000;
# see internal/pipebench and internal/fanbench), and stops the services.
# The output ends with one line:
#
#   pipeline: storage_inserts_per_s=N saturation_msgs_per_s=N ratio=R cmds_per_msg=C p50_ms_at_half=X p99_ms_at_half=Y
#   fanout: members=1024 online=N p50_ms=X p99_ms=Y bytes_per_delivery=B
#
# The services' log is shown only when they fail to start; the platform's
# output goes to $BENCH_LOGS when that names a file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NAME=${1:?usage: tests/bench.sh pipeline|fanout [ARGS]}
shift
[[ -d cmd/bench$NAME ]] || { echo "bench: no cmd/bench$NAME" >&2; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-$NAME.XXXXXX")
SERVICES_PID=
stop_services() {
	if [[ -n $SERVICES_PID ]]; then
		kill -TERM "$SERVICES_PID" 2>/dev/null || true
		wait "$SERVICES_PID" 2>/dev/null || true
		SERVICES_PID=
	fi
	rm -rf "$TMP"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

go build -o "$TMP/bench$NAME" "./cmd/bench$NAME"

bash tests/run.sh services >"$TMP/services.log" 2>&1 </dev/null &
SERVICES_PID=$!
envfile=
for ((i = 0; i < 6000; i++)); do # up to 10 minutes: a first run installs and builds
	envfile=$(sed -n 's/^services up; their environment: source \(.*\) (interrupt to stop)$/\1/p' "$TMP/services.log")
	[[ -z $envfile ]] || break
	if ! kill -0 "$SERVICES_PID" 2>/dev/null; then
		cat "$TMP/services.log" >&2
		echo "bench-$NAME: the services did not start" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ -z $envfile ]]; then
	cat "$TMP/services.log" >&2
	echo "bench-$NAME: the services did not start within 10 minutes" >&2
	exit 1
fi
# shellcheck disable=SC1090
source "$envfile"
"$TMP/bench$NAME" ${BENCH_LOGS:+-logs "$BENCH_LOGS"} "$@"
