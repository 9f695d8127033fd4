#!/bin/bash
# The gateway's CPU per relayed message for one build and journal mode:
# utime + stime from /proc over the measured run of bench/load, divided
# by the requests it counted, and the read and write system calls a
# message. Run two builds in turn to compare them on a noisy machine.
# Usage: bench/cpu.sh BINARY [off|os|disk] [ROUNDS] [MODE]
#   BINARY "floor": bench/floor, the stack's floor for a relay, instead
#   of a gateway (framed and pipelined; the journal mode is ignored).
#   MODE: pipelined (4 x 64, the default), framed (64 connections) or
#   bare (64 clients, a connection a message, the POS port bare).
# Starts an emulator on 15000 unless one listens there; DUR sets the
# measured time (default 5s), CONNS the connections (4 pipelined, 64
# else). SYSCALLS=1 also counts every system call of the gateway a
# message with perf (root), by name. RUNQ=1 also adds up how long the
# gateway's threads ran and how long they waited for a core
# (/proc/PID/task/*/schedstat): a wait near the run time says the
# cores are short.
set -euo pipefail
BIN=${1:?gateway binary}; J=${2:-off}; N=${3:-1}; MODE=${4:-pipelined}
PORT=${PORT:-12014}; ADMIN=$((PORT + 1000))
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/load" ./bench/load
if ! ss -ltn | grep -q ':15000 '; then
	EMU=$BIN; [ "$BIN" = floor ] && EMU=bin/socketqueue
	"$EMU" --echoServerPort=15000 --bankHistory=65536 >/dev/null 2>&1 &
	sleep 1
fi
case $J in off) JA=(--journal=off) ;; *) JA=(--journal=on "--journalSync=$J") ;; esac
case $MODE in
pipelined) LOAD=(--mode=pipelined --conns=${CONNS:-4} --inflight=64) ;;
framed) LOAD=(--mode=framed --conns=${CONNS:-64}) ;;
bare) LOAD=(--mode=bare --conns=${CONNS:-64}) ;;
*) echo "mode: pipelined, framed or bare" >&2; exit 2 ;;
esac
FRAMING=header; [ "$MODE" = bare ] && FRAMING=bare
if [ "$BIN" = floor ]; then
	# The stack's floor (bench/floor): bytes passed through, framed modes only.
	[ "$MODE" = bare ] && { echo "floor: framed or pipelined only" >&2; exit 2; }
	go build -o "$tmp/floor" ./bench/floor
	"$tmp/floor" --listen=127.0.0.1:$PORT --upstream=127.0.0.1:15000 2>"$tmp/floor.log" &
	G=$!
	for _ in $(seq 50); do grep -q relaying "$tmp/floor.log" && break; sleep 0.1; done
else
	"$BIN" --listenPort=$PORT --upstreamHost=127.0.0.1 --upstreamPort=15000 --listenFraming=$FRAMING \
		--dataDir="$tmp/data" --maxQueue=100000 --adminPort=$ADMIN "${JA[@]}" >/dev/null 2>&1 &
	G=$!
	for _ in $(seq 50); do curl -sf "localhost:$ADMIN/healthz" >/dev/null && break; sleep 0.1; done
fi
"$tmp/load" "${LOAD[@]}" --addr=127.0.0.1:$PORT --duration=1s --warmup=0s >/dev/null 2>&1
for _ in $(seq "$N"); do
	read -r u0 s0 < <(awk '{print $14, $15}' /proc/$G/stat)
	read -r r0 w0 < <(awk '/^syscr|^syscw/{printf "%s ", $2}' /proc/$G/io; echo)
	[ "${RUNQ:-}" = 1 ] && cat /proc/$G/task/*/schedstat >"$tmp/sched0"
	if [ "${SYSCALLS:-}" = 1 ]; then
		perf stat -x, -e 'syscalls:sys_enter_*' -p "$G" -o "$tmp/perf" &
		P=$!
	fi
	out=$("$tmp/load" "${LOAD[@]}" --addr=127.0.0.1:$PORT --duration="${DUR:-5s}" --warmup=0s 2>&1)
	[ "${SYSCALLS:-}" = 1 ] && kill -INT $P && wait $P || true
	read -r u1 s1 < <(awk '{print $14, $15}' /proc/$G/stat)
	read -r r1 w1 < <(awk '/^syscr|^syscw/{printf "%s ", $2}' /proc/$G/io; echo)
	[ "${RUNQ:-}" = 1 ] && cat /proc/$G/task/*/schedstat >"$tmp/sched1"
	n=$(echo "$out" | grep -o '"requests":[0-9]*' | grep -o '[0-9]*')
	# /proc counts ticks of 10 ms: 1e4 µs.
	awk -v j="$J" -v m="$MODE" -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v w=$((w1 - w0)) 'BEGIN {
		printf "%s journal %s: user %.2f sys %.2f total %.2f µs a message, %.3f reads %.3f writes (%d messages)\n",
			m, j, u*1e4/n, s*1e4/n, (u+s)*1e4/n, r/n, w/n, n }'
	if [ "${RUNQ:-}" = 1 ]; then
		# schedstat: ns run, ns waited on a runqueue, slices (threads
		# that came or went during the run are left out of one side).
		awk -v n="$n" 'NR == FNR { a += $1; b += $2; c += $3; next } { a1 += $1; b1 += $2; c1 += $3 }
			END { printf "  threads ran %.2f µs and waited for a core %.2f µs a message, %.0f µs a wait\n",
				(a1 - a) / 1e3 / n, (b1 - b) / 1e3 / n, (c1 > c) ? (b1 - b) / 1e3 / (c1 - c) : 0 }' "$tmp/sched0" "$tmp/sched1"
	fi
	if [ "${SYSCALLS:-}" = 1 ]; then
		awk -F, -v n="$n" '$1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); t += $1; printf "  %-16s %.3f\n", $3, $1/n }
			END { printf "  %-16s %.3f system calls a message\n", "all", t/n }' "$tmp/perf" | sort -k2 -rn
	fi
done
