#!/usr/bin/env bash
# The test command (make test): installs what is missing, starts private
# backing services (Redis, FerretDB as the MongoDB stand-in, MinIO) on free
# ports, runs go vet and go test in every module, a short fuzz of every fuzz
# target and the end-to-end tests, then prints ONE summary line:
#
#   agentchat: N passed, N failed, N skipped
#
# and exits non-zero when anything failed, including a build or go vet.
# Services are stopped on exit, also on failure or interrupt.
#
#   tests/run.sh [all|unit|fuzz|e2e]     (make test | make unit | make fuzz | make e2e)
#   tests/run.sh e2e N                   the e2e suite N times in a row against
#                                        the same services (a flake hunt;
#                                        also REPEAT=N), each run counted
#   tests/run.sh verify-deploy           make verify-deploy: builds every
#                                        function with the func CLI as
#                                        docs/deploy.md says, against a module
#                                        proxy made from this checkout, and
#                                        applies both overlays to a real API
#                                        server (run_verify_deploy)
#   tests/run.sh services                starts the services, writes their
#                                        environment to $WORK/env and waits
#                                        until SIGINT or SIGTERM, also when
#                                        started in the background
#
# Knobs (environment): AGENTCHAT_CACHE (default ~/.cache/agentchat: where
# minio, ferretdb and the helpers live), FUZZTIME (default 10s per target),
# TEST_TIMEOUT (default 20m per go test; E2E_TIMEOUT, default 45m, for the e2e one), RACE (all|auto|off, see tests/README.md),
# MODULES (unit step: these module folders only, e.g. "sdk functions/route"),
# E2E_RUN (e2e step: go test -run), REPEAT (e2e runs, default 1),
# KEEP_WORK=1 keeps the services' data and logs after the run.

# A background job of a non-interactive shell (`tests/run.sh services &` in
# a script) starts with SIGINT ignored, and bash cannot trap a signal that
# was ignored when it started: run again with SIGINT restored (same pid), so
# that an interrupt stops the services as SIGTERM does.
if [[ -n ${RUNSH_SIGINT_RESTORED:-} ]]; then
	unset RUNSH_SIGINT_RESTORED # not for the tests, nor a nested run
elif ((0x$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2>/dev/null || echo 0) & 2)) &&
	env --default-signal=INT true 2>/dev/null; then
	export RUNSH_SIGINT_RESTORED=1
	exec env --default-signal=INT bash "$0" "$@"
fi
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
MODE=${1:-all}
REPEAT=${2:-${REPEAT:-1}}
CACHE=${AGENTCHAT_CACHE:-$HOME/.cache/agentchat}
BIN=$CACHE/bin
FUZZTIME=${FUZZTIME:-10s}
TEST_TIMEOUT=${TEST_TIMEOUT:-20m}
TEST_P=${TEST_P:-4}       # go test -p of the unit step
UNIT_JOBS=${UNIT_JOBS:-2} # modules tested side by side
E2E_TIMEOUT=${E2E_TIMEOUT:-45m}
# e2e tests that run on their own (see e2e_once); "" runs all in one go test.
E2E_SOLO=${E2E_SOLO-^(TestSpineManyClients|TestSpineSurvivesCrashes|TestSpineSurvivesRollingRestart)\$}
RACE=${RACE:-all}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
export DEBIAN_FRONTEND=noninteractive
# No VCS stamping: a CI clone may belong to another user than git expects,
# and tests never read the stamp.
[[ ${GOFLAGS:-} == *-buildvcs* ]] || export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"

case $MODE in all | unit | fuzz | e2e | services | verify-deploy) ;; *)
	echo "usage: tests/run.sh [all|unit|fuzz|e2e [N]|services|verify-deploy]" >&2
	exit 2
	;;
esac
if [[ ! $REPEAT =~ ^[1-9][0-9]*$ ]] || { [[ -n ${2:-} ]] && [[ $MODE != e2e ]]; }; then
	echo "usage: tests/run.sh e2e N (N >= 1 runs of the e2e suite); REPEAT=$REPEAT" >&2
	exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/agentchat-test.XXXXXX")
COUNTS=$WORK/counts
TIMES=$WORK/times # every top-level test's time, for the slowest ten
TOOLS=$WORK/bin   # this run's own helpers: concurrent runs never share them
mkdir -p "$TOOLS" "$BIN"
: >"$COUNTS"
: >"$TIMES"

say() { printf '\n== %s  [%ss]\n' "$*" "$SECONDS"; }
die() {
	echo "tests/run.sh: $*" >&2
	exit 1
}
# failed NAME records a failure that is not a test (a vet error, a go test
# that died before reporting) so that the summary and the exit code show it.
failed() {
	echo "FAIL  $*"
	echo "0 1 0" >>"${GOTEST_COUNTS:-$COUNTS}"
}
# passed NAME records a check that is not a go test and passed.
passed() {
	echo "ok    $*"
	echo "1 0 0" >>"${GOTEST_COUNTS:-$COUNTS}"
}

# ---------------------------------------------------------------- jobs

# Steps that run side by side are background jobs of this shell, each with
# its output in a file that is printed whole when the job ends (logs of two
# jobs never interleave). JOB_OUT maps a running job's pid to that file.
declare -A JOB_OUT=()

# job_start OUTFILE CMD...: runs CMD (a function of this script, in a
# subshell) in the background.
job_start() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 </dev/null &
	JOB_OUT[$!]=$out
}

# job_reap waits for the next job to end and prints its output.
job_reap() {
	local pid=
	wait -n -p pid "${!JOB_OUT[@]}" || true
	[[ -n $pid ]] || return 0
	cat "${JOB_OUT[$pid]}"
	unset "JOB_OUT[$pid]"
}

# jobs_wait [N]: reaps jobs until at most N (default 0) are running.
jobs_wait() {
	while ((${#JOB_OUT[@]} > ${1:-0})); do job_reap; done
}

# kill_tree PID: SIGTERM to PID and every process below it, children
# first, so that a go test under a job ends with it.
kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- services

REDIS_PIDFILE=$WORK/redis.pid
SLEEP_PID= # services mode's wait
KAPI_PID=  # the kube-apiserver build, while it runs
DEPLOY_TREE= # verify-deploy's worktree, while it exists
FERRET_PID=
MINIO_PID=
PG_CTL=
PG_URL=

# gone PID: the process has exited (a zombie child that is not reaped yet
# counts as exited).
gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ $st == Z* ]]
}

# stop_pid PID: TERM, up to 10 s of grace, then KILL; reaps it if it is our
# child. Works for processes that are not our children (the daemonized
# Redis) too. Never a bare `wait`: it would hang on any child left running.
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	if ! gone "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			gone "$pid" && break
			sleep 0.1
		done
		gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

stop_services() {
	if [[ -s $REDIS_PIDFILE ]]; then
		stop_pid "$(cat "$REDIS_PIDFILE")"
		rm -f "$REDIS_PIDFILE"
	fi
	stop_pid "$FERRET_PID"
	stop_pid "$MINIO_PID"
	if [[ -n $PG_CTL && -d $WORK/pg/data ]]; then
		runuser -u postgres -- "$PG_CTL" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	FERRET_PID= MINIO_PID= PG_CTL=
}

cleanup() {
	local rc=$?
	set +e
	[[ -z $SLEEP_PID ]] || stop_pid "$SLEEP_PID"
	local pid
	for pid in "${!JOB_OUT[@]}"; do kill_tree "$pid"; done
	for pid in "${!JOB_OUT[@]}"; do wait "$pid" 2>/dev/null; done
	if [[ -n $KAPI_PID ]]; then # an unfinished build: its whole group
		kill -TERM -- "-$KAPI_PID" 2>/dev/null
		wait "$KAPI_PID" 2>/dev/null
	fi
	stop_services
	[[ -z $DEPLOY_TREE ]] || git worktree remove --force "$DEPLOY_TREE" 2>/dev/null || true
	if [[ ${KEEP_WORK:-} == 1 ]]; then
		echo "tests/run.sh: kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# until SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
tcp_open() ( exec 3<>"/dev/tcp/127.0.0.1/$1" ) 2>/dev/null
# http_ok PORT PATH: a GET answered with 200.
http_ok() (
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$2" "$1" >&3
	IFS= read -r -t 2 line <&3 || exit 1
	[[ $line == HTTP/1.?" 200"* ]]
) 2>/dev/null
redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }
alive() { ! gone "$1"; }

freeport() { "$TOOLS/freeport" "${1:-1}"; }

start_redis() {
	local port attempt version
	for attempt in 1 2 3; do
		port=$(freeport)
		redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
			--daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$WORK/redis.log" --dir "$WORK" >/dev/null
		if until_ok 10 redis_ping "$port"; then
			version=$(redis-cli -p "$port" info server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p')
			echo "redis $version on 127.0.0.1:$port"
			export AGENTCHAT_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
			return 0
		fi
		[[ -s $REDIS_PIDFILE ]] && stop_pid "$(cat "$REDIS_PIDFILE")"
		tail -n 5 "$WORK/redis.log" 2>/dev/null || true
	done
	die "redis did not start"
}

# pg_bin NAME prints the path of a PostgreSQL server program (Debian keeps
# them out of PATH, under /usr/lib/postgresql/<version>/bin).
pg_bin() {
	local f
	for f in /usr/lib/postgresql/*/bin/"$1"; do
		[[ -x $f ]] && { echo "$f"; return 0; }
	done
	command -v "$1"
}

# start_postgres starts a private PostgreSQL (as the postgres user: it
# refuses root) for FerretDB. FerretDB on SQLite decodes every document of a
# collection for any query but an _id lookup; on PostgreSQL it pushes
# filters down, which keeps the end-to-end runs' queries fast (measured: a
# page of 100 from 10,000 messages 157 ms vs 6.2 s).
start_postgres() {
	local port initdb pgctl owner=postgres
	initdb=$(pg_bin initdb) && pgctl=$(pg_bin pg_ctl) || return 1
	id "$owner" >/dev/null 2>&1 || return 1
	port=$(freeport)
	chmod 711 "$WORK" && mkdir -p "$WORK/pg" && chown "$owner" "$WORK/pg"
	runuser -u "$owner" -- "$initdb" -A trust -U postgres -D "$WORK/pg/data" >"$WORK/pg-initdb.log" 2>&1 || return 1
	runuser -u "$owner" -- "$pgctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 30 \
		-o "-p $port -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null 2>&1 || { tail -n 5 "$WORK/pg/log"; return 1; }
	PG_CTL=$pgctl
	psql -h 127.0.0.1 -p "$port" -U postgres -qc "create database ferretdb" >/dev/null || return 1
	PG_URL="postgres://postgres@127.0.0.1:$port/ferretdb"
	echo "postgresql $("$pgctl" --version | awk '{print $3}') on 127.0.0.1:$port (for FerretDB)"
}

start_ferretdb() {
	local port attempt version backend args
	version=$(go list -m -f '{{.Version}}' github.com/FerretDB/FerretDB)
	if start_postgres; then
		backend=postgresql args=(-postgresql-url "$PG_URL")
	else
		echo "postgresql unavailable: FerretDB falls back to SQLite (much slower queries)"
		backend=sqlite args=(-sqlite-dir "$WORK/mongo")
	fi
	for attempt in 1 2 3; do
		port=$(freeport)
		rm -rf "$WORK/mongo" && mkdir -p "$WORK/mongo"
		"$BIN/ferretdb" -listen "127.0.0.1:$port" "${args[@]}" >"$WORK/ferretdb.log" 2>&1 &
		FERRET_PID=$!
		if until_ok 30 tcp_open "$port" && alive "$FERRET_PID"; then
			echo "mongodb wire (FerretDB ${version#v}, $backend) on 127.0.0.1:$port"
			export AGENTCHAT_TEST_MONGODB_URI="mongodb://127.0.0.1:$port/"
			return 0
		fi
		stop_pid "$FERRET_PID"
		tail -n 5 "$WORK/ferretdb.log" || true
	done
	die "ferretdb did not start"
}

start_minio() {
	local ports port console attempt secret
	secret=agentchat-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	for attempt in 1 2 3; do
		ports=$(freeport 2)
		port=$(sed -n 1p <<<"$ports") console=$(sed -n 2p <<<"$ports")
		MINIO_ROOT_USER=agentchat MINIO_ROOT_PASSWORD=$secret MINIO_UPDATE=off \
			"$BIN/minio" server "$WORK/minio" --address "127.0.0.1:$port" \
			--console-address "127.0.0.1:$console" --quiet >"$WORK/minio.log" 2>&1 &
		MINIO_PID=$!
		if until_ok 60 http_ok "$port" /minio/health/live && alive "$MINIO_PID"; then
			echo "minio on 127.0.0.1:$port (console 127.0.0.1:$console)"
			export AGENTCHAT_TEST_S3_ENDPOINT="127.0.0.1:$port"
			export AGENTCHAT_TEST_S3_ACCESS_KEY=agentchat
			export AGENTCHAT_TEST_S3_SECRET_KEY=$secret
			return 0
		fi
		stop_pid "$MINIO_PID"
		tail -n 5 "$WORK/minio.log" || true
	done
	die "minio did not start"
}

# ---------------------------------------------------------------- installs

# apt_need COMMAND PACKAGE [COMMAND PACKAGE]...: installs from Debian, in
# one apt-get run, each PACKAGE whose COMMAND is missing.
apt_need() {
	local pkgs=() sudo=
	while (($# >= 2)); do
		command -v "$1" >/dev/null || pkgs+=("$2")
		shift 2
	done
	((${#pkgs[@]} > 0)) || return 0
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "missing, and installing needs root: apt-get install -y ${pkgs[*]}"
		sudo="sudo -n"
	fi
	echo "installing ${pkgs[*]} (apt-get)"
	$sudo apt-get update -q >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; die "apt-get update failed"; }
	$sudo apt-get install -y -q "${pkgs[@]}" >>"$WORK/apt.log" 2>&1 ||
		{ tail -n 30 "$WORK/apt.log"; die "apt-get install ${pkgs[*]} failed"; }
}

build_helpers() {
	go build -o "$TOOLS/" ./internal/testenv/cmd/testsummary ./internal/testenv/cmd/freeport ||
		die "building the test helpers failed"
}

# The kube-apiserver of knative's TestServerSideApply is built once into
# $BIN (about 3 minutes; see knative/hack/build-kube-apiserver.sh), in the
# background while the rest is installed and the services start; the
# root module's tests wait for it (kube_apiserver_wait).
kube_apiserver_start() {
	[[ -x $BIN/kube-apiserver ]] && return 0
	echo "building kube-apiserver into $BIN in the background (about 3 minutes, once)"
	# Its own process group, so that an interrupt can stop the whole build.
	AGENTCHAT_CACHE=$CACHE setsid -w bash knative/hack/build-kube-apiserver.sh >"$WORK/kube-apiserver.log" 2>&1 </dev/null &
	KAPI_PID=$!
}
kube_apiserver_wait() {
	[[ -n $KAPI_PID ]] || return 0
	say "waiting for the kube-apiserver build"
	if wait "$KAPI_PID"; then
		tail -n 1 "$WORK/kube-apiserver.log"
	else
		tail -n 30 "$WORK/kube-apiserver.log"
		failed "building kube-apiserver (knative/hack/build-kube-apiserver.sh)"
	fi
	KAPI_PID=
}

install_services() {
	say "install and build what is missing"
	local pg=
	pg_bin initdb >/dev/null || pg=postgresql
	# redis-server: the Redis; chromium: the web client's e2e test; node: the
	# WebCrypto vectors (sdk/e2ee); etcd: the API server of knative's
	# TestServerSideApply (kubectl comes with this kind of machine).
	apt_need redis-server redis-server chromium chromium node nodejs etcd etcd-server ${pg:+initdb "$pg"}
	[[ $MODE == e2e || $MODE == services ]] || kube_apiserver_start
	go build -o "$BIN/ferretdb" ./cmd/ferretdb || die "building cmd/ferretdb failed"
	if [[ ! -x $BIN/minio ]]; then
		echo "installing minio $MINIO_VERSION into $BIN (about 2 minutes, once)"
		GOBIN=$BIN go install "github.com/minio/minio@$MINIO_VERSION" ||
			die "installing minio failed"
	fi
	# Jaeger: the e2e test of tracing into it (TestTraceInJaeger).
	bash tests/install-jaeger.sh "$BIN" || die "building jaeger failed"
	export AGENTCHAT_TEST_CHROMIUM
	AGENTCHAT_TEST_CHROMIUM=$(command -v chromium)
	export AGENTCHAT_CACHE=$CACHE
}

start_services() {
	say "start services"
	start_redis
	start_ferretdb
	start_minio
}

# ---------------------------------------------------------------- tests

# modules prints every Go module's folder, the root first.
modules() {
	echo .
	find . -name go.mod -not -path './go.mod' -not -path './.git/*' -not -path '*/testdata/*' \
		-not -path '*/node_modules/*' -not -path '*/vendor/*' -printf '%h\n' | sed 's|^\./||' | sort
}

# shown_module prints testsummary's -module flag for a function module (its
# module path is "function"; its folder is shown instead), run in its folder.
shown_module() {
	[[ $(go list -m 2>/dev/null) == function ]] && echo "-module ${PWD#"$ROOT"/}"
	return 0
}

# gotest LABEL VERBOSE ARGS...: go test -json in the current folder, read by
# testsummary; a go test that fails without a failing test counts as one.
# GOTEST_COUNTS (default $COUNTS) is where the counts go.
gotest() {
	local label=$1 verbose=$2 st
	shift 2
	set +e
	go test -json "$@" 2>&1 | "$TOOLS/testsummary" $verbose $(shown_module) -counts "${GOTEST_COUNTS:-$COUNTS}" -times "$TIMES"
	st=("${PIPESTATUS[@]}")
	set -e
	if ((st[0] != 0 && st[1] == 0)); then
		failed "$label: go test exited ${st[0]} without a failing test (see above)"
	fi
}

# race_split prints the module's packages, "race PKG" or "plain PKG".
# RACE=all (default): every package under -race. With warm caches that
# costs little (measured: see tests/README.md); the cost is the first race
# build of Knative, Kubernetes and FerretDB code on a cold cache.
# RACE=auto: -race only where the test binary links none of those (for a
# cold machine in a hurry); RACE=off: none.
race_split() {
	local kinds pkg
	# "light PKG" or "heavy PKG" for every package that has a test binary.
	kinds=$(go list -e -test -f '{{if and (eq .Name "main") (eq .ForTest "")}}{{.ImportPath}} {{join .Deps " "}}{{end}}' "$@" |
		awk '$1 ~ /\.test$/ {
			kind = "light"
			for (i = 2; i <= NF; i++) if ($i ~ /^(github\.com\/FerretDB\/FerretDB\/|knative\.dev\/|k8s\.io\/)/) kind = "heavy"
			sub(/\.test$/, "", $1)
			print kind, $1
		}')
	for pkg in "$@"; do
		case $RACE in
		all) echo "race $pkg" ;;
		off) echo "plain $pkg" ;;
		*) if grep -qxF "light $pkg" <<<"$kinds"; then echo "race $pkg"; else echo "plain $pkg"; fi ;;
		esac
	done
}

# unit_module DIR: go vet and go test of one module (a job of run_unit: an
# interrupt ends it through cleanup's kill_tree).
unit_module() {
	local dir=$1 label=$1 pkgs modpath split race plain vetlog
	[[ $dir == . ]] && label=root
	vetlog=$WORK/vet.${label//\//_}.log
	cd "$ROOT/$dir"
	say "module $label: go vet"
	if go vet ./... >"$vetlog" 2>&1; then
		echo "ok    go vet ($label)"
	else
		sed 's/^/    /' "$vetlog"
		failed "go vet ($label)"
	fi
	# gofmt, for this module's own files (not a nested module's).
	local unformatted
	unformatted=$(gofmt -l $(go list -e -f '{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}} {{end}}{{range .TestGoFiles}}{{$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$d}}/{{.}} {{end}}' ./...) 2>&1 || true)
	if [[ -z $unformatted ]]; then
		echo "ok    gofmt ($label)"
	else
		sed 's/^/    not gofmt-formatted: /' <<<"$unformatted"
		failed "gofmt ($label)"
	fi
	say "module $label: go test"
	modpath=$(go list -m)
	# The end-to-end tests run once, in the e2e step.
	pkgs=$(go list -e ./... | grep -v -E "^$modpath/tests(/|$)" || true)
	if [[ -z $pkgs ]]; then
		echo "(no packages)"
	else
		# shellcheck disable=SC2086
		split=$(race_split $pkgs)
		race=$(sed -n 's/^race //p' <<<"$split")
		plain=$(sed -n 's/^plain //p' <<<"$split")
		# shellcheck disable=SC2086
		[[ -z $race ]] || gotest "$label (race)" "" -count=1 -p "$TEST_P" -timeout "$TEST_TIMEOUT" -race $race
		# shellcheck disable=SC2086
		[[ -z $plain ]] || gotest "$label" "" -count=1 -p "$TEST_P" -timeout "$TEST_TIMEOUT" $plain
	fi
	cd "$ROOT"
}

# run_unit tests the modules UNIT_JOBS at a time (their tests wait on
# services and timers as much as they compute). The root module, the
# largest, goes first — or last while the kube-apiserver it needs is still
# being built, so that the other modules overlap the build.
run_unit() {
	local mods m i=0 root=
	if [[ -n ${MODULES:-} ]]; then
		read -r -a mods <<<"$MODULES"
	else
		mapfile -t mods < <(modules)
	fi
	for m in "${mods[@]}"; do
		[[ $m == . ]] && root=1
	done
	if [[ -n $root ]]; then
		mapfile -t mods < <(printf '%s\n' "${mods[@]}" | grep -vx '\.')
		if [[ -n $KAPI_PID ]]; then mods+=(.); else mods=(. "${mods[@]}"); fi
	fi
	for m in "${mods[@]}"; do
		jobs_wait $((UNIT_JOBS - 1))
		[[ $m != . ]] || kube_apiserver_wait # knative's TestServerSideApply needs it
		echo "(module ${m/#./root}: started at ${SECONDS}s; its log follows when it ends)"
		job_start "$WORK/unit.$((i++)).log" unit_module "$m"
	done
	jobs_wait
}

# fuzz_targets prints "MODULE_DIR PACKAGE_DIR FuzzName" for every fuzz target.
fuzz_targets() {
	local file dir mod pkg name
	grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata \
		--exclude-dir=node_modules --exclude-dir=vendor '^func Fuzz[A-Za-z0-9_]*\(' . | sort |
		while read -r file; do
			dir=$(dirname "$file")
			mod=$dir
			while [[ ! -f $mod/go.mod && $mod != . ]]; do mod=$(dirname "$mod"); done
			pkg=.
			[[ $dir == "$mod" ]] || pkg=./${dir#"$mod"/}
			for name in $(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$file"); do
				echo "${mod#./} $pkg $name"
			done
		done
}

run_fuzz() {
	local targets t mod pkg name
	say "fuzz: every target for $FUZZTIME"
	mapfile -t targets < <(fuzz_targets)
	((${#targets[@]} > 0)) || echo "(no fuzz targets)"
	for t in "${targets[@]}"; do
		read -r mod pkg name <<<"$t"
		echo "fuzz $name in $mod ($pkg)"
		cd "$ROOT/$mod"
		fuzz_one "$name" "$pkg" </dev/null
		cd "$ROOT"
	done
}

# fuzz_one NAME PKG fuzzes one target. Go 1.26's fuzz coordinator can fail
# a target with a bare "context deadline exceeded" when -fuzztime runs out
# while a worker is busy (go.dev/issue/75804, fixed in Go 1.27): no input
# is found and none written. Only that exact case runs once more; a real
# finding always writes a failing input and fails at once.
fuzz_one() {
	local name=$1 pkg=$2 out=$WORK/fuzz.json attempt st sst
	for attempt in 1 2; do
		set +e
		go test -json -run='^$' -fuzz="^$name\$" -fuzztime="$FUZZTIME" "$pkg" >"$out" 2>&1
		st=$?
		set -e
		if ((st != 0 && attempt == 1)) && grep -q 'context deadline exceeded' "$out" &&
			! grep -qE 'Failing input written|panic:' "$out"; then
			echo "fuzz $name: the -fuzztime shutdown race of Go 1.26 (go.dev/issue/75804), nothing found: once more"
			continue
		fi
		break
	done
	set +e
	"$TOOLS/testsummary" -v $(shown_module) -counts "$COUNTS" -times "$TIMES" <"$out"
	sst=$?
	set -e
	if ((st != 0 && sst == 0)); then
		failed "fuzz $name: go test exited $st without a failing test (see above)"
	fi
}

# e2e_once LABEL runs the end-to-end suite once. The tests in E2E_SOLO
# (the two 10,000-message spine runs, which keep the CPU busy) run in one
# go test, live; the others side by side with them in a second go test,
# whose log is printed when it ends: they mostly wait (a model slower than
# 30 s, reconnects, a browser) and would otherwise add minutes. Every test
# has its own platform, Redis prefix and database either way. E2E_RUN
# picks tests instead, all in one go test.
e2e_once() {
	local label=$1 args=(-v -count=1 -timeout "$E2E_TIMEOUT")
	if [[ -n ${E2E_RUN:-} || -z $E2E_SOLO ]]; then
		gotest "$label" "${args[@]}" ${E2E_RUN:+-run "$E2E_RUN"} ./tests/... </dev/null
		return
	fi
	job_start "$WORK/e2e-others.log" gotest "$label (others)" "${args[@]}" -skip "$E2E_SOLO" ./tests/...
	gotest "$label" "${args[@]}" -run "$E2E_SOLO" ./tests/... </dev/null
	jobs_wait
}

# run_e2e runs the end-to-end suite REPEAT times in a row against the same
# services; with more than one run, each run's counts are shown and all of
# them go into the summary.
run_e2e() {
	local i runs=$WORK/e2e-runs
	if [[ -z $(go list ./tests/... 2>/dev/null) ]]; then
		echo "(no end-to-end tests yet)"
		return 0
	fi
	: >"$runs"
	for ((i = 1; i <= REPEAT; i++)); do
		if ((REPEAT == 1)); then
			say "e2e: go test -v ./tests/..."
			e2e_once e2e
			continue
		fi
		say "e2e run $i of $REPEAT: go test -v ./tests/..."
		: >"$WORK/e2e-counts"
		GOTEST_COUNTS=$WORK/e2e-counts e2e_once "e2e run $i"
		cat "$WORK/e2e-counts" >>"$COUNTS"
		echo "$("$TOOLS/testsummary" -total -label "e2e run $i of $REPEAT" "$WORK/e2e-counts") [$((SECONDS / 60))m$((SECONDS % 60))s]" |
			tee -a "$runs"
	done
	if ((REPEAT > 1)); then
		say "e2e: $REPEAT runs"
		cat "$runs"
	fi
}

# ---------------------------------------------------------------- deploy

# run_verify_deploy checks the deploy path as a platform team walks it
# (docs/deploy.md), without a cluster or a container engine:
#  1. the func CLI the docs name (knative/hack/build-func.sh, once);
#  2. a Go module proxy serving this checkout's sdk and store modules at the
#     versions the functions require, made as a tag would publish them
#     (knative/hack/modproxy): no tag has to exist;
#  3. every function built with the documented command, in a worktree of
#     this checkout (tracked files as they are now, uncommitted changes
#     included): each must produce its image (an OCI layout), and the
#     worktree must stay as it was but for the registry and builder func
#     records in func.yaml;
#  4. both overlays applied server-side (dry run) to a real kube-apiserver
#     with Knative's CRDs (knative's TestServerSideApply, which may not
#     skip here).
FUNC_VERSION=v0.44.0
run_verify_deploy() {
	say "verify-deploy: the func CLI $FUNC_VERSION"
	kube_apiserver_start
	AGENTCHAT_CACHE=$CACHE bash knative/hack/build-func.sh >"$WORK/func-cli.log" 2>&1 || {
		tail -n 30 "$WORK/func-cli.log"
		failed "building the func CLI (knative/hack/build-func.sh)"
		return 0
	}
	tail -n 1 "$WORK/func-cli.log"
	local func=$BIN/func-$FUNC_VERSION proxy=$WORK/goproxy rev goproxy
	# Go's module cache keeps the first download of a version forever: a
	# cache that saw another checkout's sdk v0.1.0 would build with that
	# one. So the builds get a module cache of this run's own, filled from
	# this checkout's proxy first, then from the machine's module cache (as
	# a file proxy: no download again), then from the usual proxy.
	goproxy="file://$proxy,file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)"
	say "verify-deploy: a module proxy made from this checkout"
	go run ./knative/hack/modproxy -out "$proxy" functions/*/go.mod || {
		failed "knative/hack/modproxy"
		return 0
	}
	rev=$(git stash create)
	DEPLOY_TREE=$WORK/deploy-tree
	git worktree add -q --detach "$DEPLOY_TREE" "${rev:-HEAD}" || die "git worktree add failed"
	local dir name start
	for dir in "$DEPLOY_TREE"/functions/*/; do
		name=$(basename "$dir")
		[[ -f $dir/func.yaml ]] || continue
		say "verify-deploy: func build $name (host builder, as docs/deploy.md says)"
		start=$SECONDS
		# The documented command and environment (docs/deploy.md, "Deploy
		# the functions"); GOPROXY puts this checkout's modules first.
		if (cd "$dir" && FUNC_ENABLE_HOST_BUILDER=true GOFLAGS="-mod=mod -modcacherw" GOMODCACHE="$WORK/gomodcache" \
			GOPROXY="$goproxy" GONOSUMDB=github.com/agentchat/agentchat \
			"$func" build --builder=host --registry registry.example.com/agentchat) >"$WORK/build-$name.log" 2>&1 &&
			[[ -f $dir/.func/builds/last/oci/index.json ]]; then
			passed "func build $name ($((SECONDS - start))s, $(du -sm "$dir/.func" | cut -f1) MB)"
			# The image is checked; what func built (three platforms'
			# layers, ignored by git) goes, so that the builds of every
			# function never hold the disk at once.
			rm -rf "$dir/.func/builds"
		else
			tail -n 30 "$WORK/build-$name.log"
			failed "func build $name: no image (log above)"
		fi
	done
	say "verify-deploy: the checkout after the builds"
	local changed=() f
	mapfile -t changed < <(git -C "$DEPLOY_TREE" status --porcelain --untracked-files=all)
	local dirty=0
	for f in "${changed[@]}"; do
		if [[ $f =~ ^\ M\ (functions/[^/]+/func\.yaml)$ ]]; then
			# func records the registry and the builder it was given; any
			# other change (a comment dropped, a field moved) is a
			# func.yaml not in func's own form.
			if git -C "$DEPLOY_TREE" diff -U0 -- "${BASH_REMATCH[1]}" | grep -E '^[-+][^-+]' |
				grep -vqE '^\+(registry: |build:$|  builder: host$)'; then
				git -C "$DEPLOY_TREE" diff -- "${BASH_REMATCH[1]}"
				echo "$f: func rewrote it (write it in func's own form, as above)"
				dirty=1
			fi
			continue
		fi
		echo "$f: left by func build"
		dirty=1
	done
	if ((dirty)); then failed "func build left the checkout changed (above)"; else passed "func build leaves the checkout clean"; fi
	git worktree remove --force "$DEPLOY_TREE" && DEPLOY_TREE=
	kube_apiserver_wait
	say "verify-deploy: both overlays on a real API server"
	CI=true gotest "verify-deploy" -v -count=1 -run '^TestServerSideApply$' ./knative/
}

# ---------------------------------------------------------------- main

main() {
	say "agentchat tests ($MODE): $(go version | cut -d' ' -f3-), $(nproc) cores, cache $CACHE"
	build_helpers
	if [[ $MODE == verify-deploy ]]; then
		# etcd for the API server; kubectl comes with this kind of machine.
		apt_need etcd etcd-server
		export AGENTCHAT_CACHE=$CACHE
	elif [[ $MODE != fuzz ]]; then
		install_services
		start_services
	fi
	case $MODE in
	verify-deploy) run_verify_deploy ;;
	all)
		run_unit
		run_fuzz
		run_e2e
		;;
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	e2e) run_e2e ;;
	services)
		export -p | grep -E ' (AGENTCHAT_[A-Z0-9_]*|GOFLAGS)=' >"$WORK/env"
		echo "services up; their environment: source $WORK/env (interrupt to stop)"
		while :; do
			sleep 3600 &
			SLEEP_PID=$!
			wait "$SLEEP_PID" || break
		done
		;;
	esac
	stop_services
	say "done in $((SECONDS / 60))m$((SECONDS % 60))s"
	"$TOOLS/testsummary" -total -times "$TIMES" "$COUNTS"
}

# One line, read whole before it runs: editing this file during a run
# cannot make bash read on into the middle of the new text.
main; exit $?
