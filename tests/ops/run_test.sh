#!/usr/bin/env bash
# ops/run as an operator uses it, on binaries already built (--no-build) and in temporary data
# roots, with every port shifted (by one of six offsets, locked) so that it runs beside other
# tests, other runs of itself and a cluster on the usual ports: bad usage; a first start
# (--detach) that becomes ready; a second start refused while it runs; 'ops/run stop' stopping
# every process in order (gateways, consensus, compactors, logstores; SIGKILL for one that does
# not stop);
# a restart that keeps the stored layout, bootstraps nothing and still holds what was written
# before; Ctrl-C (SIGTERM) of a foreground run; --curve, a secured cluster; and --spread, each
# node and gateway on its own loopback address.
# usage: run_test.sh BUILD_DIR
set -euo pipefail

build_dir="${1:?usage: run_test.sh BUILD_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
run="$root/ops/run"
work="$(mktemp -d "${TMPDIR:-/tmp}/copycat-ops-run.XXXXXX")"
cleanup() {
    local data_root
    for data_root in "$work"/*/; do
        [[ -d "$data_root" ]] || continue
        "$run" stop --data-root "$data_root" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Every port shifted by 10000 + 2500 j for a j from 0 to 5 (a cluster's ports span 7000-9399,
# so the six never overlap, and all stay below Linux's ephemeral range, 32768 and up). A lock
# per j, held until the test ends, keeps runs of this test side by side (several build trees)
# from taking the same one.
offset=""
first_slot=$((RANDOM % 6))
for attempt in 0 1 2 3 4 5; do
    slot=$(((first_slot + attempt) % 6))
    exec {lock_fd}> "/tmp/copycat-ops-run-test.$slot.lock"
    if flock -n "$lock_fd"; then
        offset=$((10000 + 2500 * slot))
        break
    fi
    exec {lock_fd}>&-
done
if [[ -z "$offset" ]]; then
    echo "FAIL: the six port ranges are all taken by other runs of this test" >&2
    exit 1
fi
gateway_binary="$build_dir/gateway/copycat-gateway"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
step() {
    echo "== $*"
}
# ops/run --no-build; the processes it starts do not inherit the lock.
cluster() {
    "$run" --no-build --build-dir "$build_dir" "$@" {lock_fd}>&-
}

# A process runs (not exited, not a zombie waiting for a parent that does not reap it).
alive() {
    [[ -n "$(tr -d '\0' 2>/dev/null < "/proc/$1/cmdline")" ]]
}

# The HTTP status of GET http://HOST:PORT/readyz?verbose if it names a check that passed
# (bash's /dev/tcp, so that the test needs no curl).
readyz() {
    local fd line code=000 passed=0
    if { exec {fd}<>"/dev/tcp/$1/$2"; } 2>/dev/null; then
        printf 'GET /readyz?verbose HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" 1>&"$fd"
        if IFS=$'\r' read -t 2 -r line <&"$fd" && [[ "$line" =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
            code="${BASH_REMATCH[1]}"
        fi
        while IFS=$'\r' read -t 2 -r line <&"$fd"; do
            if [[ "$line" == "[+]"* ]]; then passed=1; fi
        done
        exec {fd}>&-
    fi
    if [[ $code == 200 && $passed -eq 0 ]]; then code="200 without a passed check"; fi
    echo "$code"
}
expect_ready() {
    local code
    code="$(readyz "$1" "$2")"
    [[ "$code" == 200 ]] || fail "$3 at $1:$2 answers /readyz with $code, not 200"
}

# The pid-file lines of a data root, checked: each process named and running.
expect_running() {
    local data_root="$1" want="$2" pid name binary count=0
    [[ -f "$data_root/run/pids" ]] || fail "no $data_root/run/pids"
    while read -r pid name binary; do
        alive "$pid" || fail "$name (pid $pid) does not run"
        [[ -x "$binary" ]] || fail "$name: $binary is not the binary it names"
        count=$((count + 1))
    done < "$data_root/run/pids"
    [[ $count -eq $want ]] || fail "$count processes in run/pids, expected $want"
}
pids_of() {
    cut -d' ' -f1 "$1/run/pids"
}
pid_named() {
    awk -v name="$2" '$2 == name { print $1 }' "$1/run/pids"
}
expect_all_gone() {
    local pid
    for pid in "$@"; do
        if alive "$pid"; then fail "pid $pid still runs after ops/run stop"; fi
    done
}
# The line number of the first or last line of $2 that starts with "stopped $3-".
stop_line() {
    grep -n "^stopped $3-" <<< "$2" | "$1" -n 1 | cut -d: -f1 || true
}
# Stopped in order: every gateway before any consensus, every consensus before any compactor,
# every compactor before any logstore.
expect_stop_order() {
    local last_gateway first_consensus last_consensus first_compactor last_compactor first_logstore
    last_gateway="$(stop_line tail "$1" gateway)"
    first_consensus="$(stop_line head "$1" consensus)"
    last_consensus="$(stop_line tail "$1" consensus)"
    first_compactor="$(stop_line head "$1" compactor)"
    last_compactor="$(stop_line tail "$1" compactor)"
    first_logstore="$(stop_line head "$1" logstore)"
    [[ -n "$first_consensus" && -n "$first_compactor" && -n "$first_logstore" ]] ||
        fail "stop output: $1"
    [[ $last_consensus -lt $first_compactor ]] || fail "a compactor stopped before a consensus"
    [[ $last_compactor -lt $first_logstore ]] || fail "a logstore stopped before a compactor"
    if [[ -n "$last_gateway" && $last_gateway -gt $first_consensus ]]; then
        fail "a consensus stopped before a gateway"
    fi
    if [[ $gateways -eq 1 && -z "$last_gateway" ]]; then fail "no gateway stopped: $1"; fi
}
has_flag() {  # has_flag PID FLAG: the process was started with FLAG
    tr '\0' '\n' < "/proc/$1/cmdline" | grep -qx -- "$2"
}

gateways=1
processes=10  # per node a logstore, a compactor and a consensus; one gateway
if [[ ! -x "$gateway_binary" ]]; then
    echo "SKIP the gateway checks: $gateway_binary is not built (ops/run starts none)"
    gateways=0
    processes=9
fi
ctl=()
if [[ $gateways -eq 1 && -x "$build_dir/client/ctl/copycat-ctl" ]]; then
    ctl=("$build_dir/client/ctl/copycat-ctl" --endpoints "tcp://127.0.0.1:$((7000 + offset))")
else
    echo "SKIP writing and reading through the gateway: no copycat-ctl or no gateway"
fi

step "bad usage exits 2 with the usage on stderr"
status=0
"$run" --bogus > "$work/out" 2> "$work/err" || status=$?
[[ $status -eq 2 ]] || fail "ops/run --bogus exited $status, not 2"
grep -q '^usage: ops/run' "$work/err" || fail "no usage on stderr: $(cat "$work/err")"
[[ ! -s "$work/out" ]] || fail "ops/run --bogus wrote to stdout: $(cat "$work/out")"
status=0
"$run" stop --nodes 3 > /dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "ops/run stop --nodes 3 exited $status, not 2"

a="$work/a"
step "first start, detached, port offset $offset"
output="$(cluster --data-root "$a" --port-offset "$offset" --detach)" ||
    fail "first start failed: $output"
grep -q "a new cluster of 3 nodes" <<< "$output" || fail "not a first start: $output"
grep -q "^ready after" <<< "$output" || fail "not reported ready: $output"
expect_running "$a" "$processes"
for n in 1 2 3; do
    expect_ready 127.0.0.1 $((9100 + n + offset)) "consensus-$n"
    expect_ready 127.0.0.1 $((9300 + n + offset)) "compactor-$n"
    has_flag "$(pid_named "$a" "consensus-$n")" --initial-cluster ||
        fail "consensus-$n of a new cluster started without --initial-cluster"
    [[ -s "$a/run/logs/consensus-$n.log" ]] || fail "no run/logs/consensus-$n.log"
done
if [[ $gateways -eq 1 ]]; then
    expect_ready 127.0.0.1 $((9000 + offset)) gateway-1
    grep -q "tcp://127.0.0.1:$((7000 + offset))" <<< "$output" ||
        fail "the gateway's client endpoint is not printed: $output"
fi
grep -q "^port-offset=$offset$" "$a/data/layout" ||
    fail "layout not stored: $(cat "$a/data/layout")"
if [[ ${#ctl[@]} -gt 0 ]]; then
    timeout 30 "${ctl[@]}" put greeting "hello $offset" > /dev/null ||
        fail "copycat-ctl put through the gateway failed"
fi

step "a second start is refused while the cluster runs"
status=0
cluster --data-root "$a" --detach > /dev/null 2> "$work/err" || status=$?
[[ $status -eq 1 ]] || fail "second start exited $status, not 1"
grep -q "still runs" "$work/err" || fail "no reason given: $(cat "$work/err")"

step "ops/run stop"
mapfile -t pids < <(pids_of "$a")
output="$("$run" stop --data-root "$a")" || fail "ops/run stop failed: $output"
expect_all_gone "${pids[@]}"
expect_stop_order "$output"
[[ ! -e "$a/run/pids" ]] || fail "run/pids left behind"

step "a restart on other addresses is refused"
status=0
cluster --data-root "$a" --spread --detach > /dev/null 2> "$work/err" || status=$?
[[ $status -eq 2 ]] || fail "--spread on a 127.0.0.1 cluster exited $status, not 2"
status=0
cluster --data-root "$a" --port-offset $((offset + 1)) --detach > /dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "another --port-offset exited $status, not 2"
[[ ! -e "$a/run/pids" ]] || fail "a refused start started processes"

step "restart, detached: the stored layout, no --initial-cluster"
output="$(cluster --data-root "$a" --detach)" || fail "restart failed: $output"
grep -q "restarting the cluster" <<< "$output" || fail "not a restart: $output"
expect_running "$a" "$processes"
for n in 1 2 3; do
    expect_ready 127.0.0.1 $((9100 + n + offset)) "consensus-$n"
    if has_flag "$(pid_named "$a" "consensus-$n")" --initial-cluster; then
        fail "consensus-$n restarted with --initial-cluster"
    fi
done
if [[ $gateways -eq 1 ]]; then expect_ready 127.0.0.1 $((9000 + offset)) gateway-1; fi
if [[ ${#ctl[@]} -gt 0 ]]; then
    value="$(timeout 30 "${ctl[@]}" get greeting)" ||
        fail "copycat-ctl get after the restart failed"
    [[ "$value" == "hello $offset" ]] || fail "after the restart greeting is '$value'"
fi

step "ops/run stop: SIGKILL for a process that does not stop (SIGSTOP'd consensus-2)"
mapfile -t pids < <(pids_of "$a")
kill -STOP "$(pid_named "$a" consensus-2)"
output="$("$run" stop --data-root "$a" 2> "$work/err")" || fail "ops/run stop failed: $output"
expect_all_gone "${pids[@]}"
expect_stop_order "$output"
grep -q "consensus-2 .*SIGKILL" "$work/err" || fail "no word of the SIGKILL: $(cat "$work/err")"

step "foreground run stopped by SIGTERM (as by Ctrl-C)"
"$run" --no-build --build-dir "$build_dir" --data-root "$a" > "$work/foreground.out" 2>&1 \
    {lock_fd}>&- &
foreground=$!
deadline=$((SECONDS + 30))
until grep -q "^ready after" "$work/foreground.out"; do
    alive "$foreground" || fail "the foreground run ended: $(cat "$work/foreground.out")"
    ((SECONDS < deadline)) || fail "the foreground run not ready: $(cat "$work/foreground.out")"
    sleep 0.2
done
mapfile -t pids < <(pids_of "$a")
kill -TERM "$foreground"
status=0
wait "$foreground" || status=$?
[[ $status -eq 0 ]] || fail "the foreground run exited $status after SIGTERM"
expect_all_gone "${pids[@]}"
[[ ! -e "$a/run/pids" ]] || fail "run/pids left behind by the foreground run"

if [[ ${#ctl[@]} -gt 0 ]]; then
    step "--curve: keys made at the first start; a client with them is served, one without not"
    c="$work/c"
    output="$(cluster --data-root "$c" --port-offset "$offset" --curve --detach)" ||
        fail "--curve start failed: $output"
    grep -q "^curve=1$" "$c/data/layout" || fail "--curve not stored: $(cat "$c/data/layout")"
    has_flag "$(pid_named "$c" consensus-1)" --curve-peer-keys ||
        fail "consensus-1 of a --curve cluster started without --curve-peer-keys"
    timeout 30 "${ctl[@]}" --curve-key "$c/data/keys/client.key" \
        --curve-gateway-key "$c/data/keys/gateway.pub" put secured yes > /dev/null ||
        fail "copycat-ctl with the cluster's client key failed"
    status=0
    timeout 30 "${ctl[@]}" --dial-timeout 1s put secured no > /dev/null 2>&1 || status=$?
    [[ $status -eq 1 ]] || fail "copycat-ctl without CURVE exited $status, not 1"
    mapfile -t pids < <(pids_of "$c")
    "$run" stop --data-root "$c" > /dev/null
    expect_all_gone "${pids[@]}"
fi

step "--spread: node n on 127.0.0.(10+n), gateway g on 127.0.0.(20+g)"
# Linux routes all of 127.0.0.0/8 to the loopback interface: a connection to a port where
# nothing listens is refused at once. Elsewhere the address may not be local.
probe="$(timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.11/1' 2>&1 || true)"
if [[ "$probe" != *refused* ]]; then
    echo "SKIP --spread: 127.0.0.11 is not a local address here ($probe)"
    echo "PASS"
    exit 0
fi
b="$work/b"
output="$(cluster --data-root "$b" --port-offset "$offset" --spread --detach)" ||
    fail "--spread start failed: $output"
expect_running "$b" "$processes"
for n in 1 2 3; do
    expect_ready "127.0.0.$((10 + n))" $((9100 + n + offset)) "consensus-$n"
done
if [[ $gateways -eq 1 ]]; then
    expect_ready 127.0.0.21 $((9000 + offset)) gateway-1
    grep -q "tcp://127.0.0.21:$((7000 + offset))" <<< "$output" ||
        fail "the gateway's spread endpoint is not printed: $output"
fi
[[ "$(readyz 127.0.0.1 $((9101 + offset)))" == 000 ]] ||
    fail "with --spread something still answers on 127.0.0.1"
mapfile -t pids < <(pids_of "$b")
"$run" stop --data-root "$b" > /dev/null
expect_all_gone "${pids[@]}"
echo "PASS"
