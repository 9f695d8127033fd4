#!/bin/bash
# Two builds of the gateway side by side on one emulator, the rows run
# in turn against each, so that a shared, noisy machine drifts for both
# alike. Usage: bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
# Prints each row's throughput and the gateway's CPU ticks (1/100 s).
set -euo pipefail
A=${1:?old binary}; B=${2:?new binary}; ROUNDS=${3:-3}
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/load" ./bench/load
"$B" --echoServerPort=15000 --bankHistory=65536 >/dev/null 2>&1 &
sleep 1
"$A" --upstreamHost=127.0.0.1 --upstreamPort=15000 --listenPort=16000 --listenHttpPort=16100 --journal=off --dataDir="$tmp/a" --listenFraming=bare >/dev/null 2>&1 & PA=$!
"$B" --upstreamHost=127.0.0.1 --upstreamPort=15000 --listenPort=16001 --listenHttpPort=16101 --journal=off --dataDir="$tmp/b" --listenFraming=bare >/dev/null 2>&1 & PB=$!
sleep 2
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
row() { # name pid mode addr
	local c0 r
	c0=$(ticks "$2")
	r=$("$tmp/load" --mode="$3" --addr="$4" --conns=1 --duration=3s --warmup=500ms 2>&1 | grep -o "[0-9]*/s" | head -1)
	echo "$1 $3 1 client $r cpu_ticks=$(($(ticks "$2") - c0))"
}
for _ in $(seq "$ROUNDS"); do
	row old $PA bare 127.0.0.1:16000; row new $PB bare 127.0.0.1:16001
	row old $PA http 127.0.0.1:16100; row new $PB http 127.0.0.1:16101
done
