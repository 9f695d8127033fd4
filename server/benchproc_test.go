package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// The relay benchmarks measure the gateway alone: the emulator and the
// clients run as processes of their own (this test binary again, in the
// role benchRole names), so that this process's CPU over the timed part
// is the gateway's, reported as gateway-ns/msg beside the wall time.
const benchRole = "SOCKETQUEUE_BENCH_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(benchRole) {
	case "emulator":
		os.Exit(benchEmulator())
	case "clients":
		os.Exit(benchClients())
	}
	os.Exit(m.Run())
}

// benchEmulator serves the emulator on a loopback port it prints, until
// its standard input closes.
func benchEmulator() int {
	host, err := bank.NewHost(bank.HostConfig{Dialect: sv, Seed: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: sv.Layout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := bank.Start(bank.Config{Addr: "127.0.0.1:0", Host: host, Framing: f, Log: zerolog.Nop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(srv.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return 1
	}
	return 0
}

// benchClients runs CONNS pipelined connections to ADDR, WINDOW
// requests in flight on each, N requests in all, and exits 0 once every
// reply came.
func benchClients() int {
	addr := os.Getenv("ADDR")
	conns, _ := strconv.Atoi(os.Getenv("CONNS"))
	window, _ := strconv.Atoi(os.Getenv("WINDOW"))
	n, _ := strconv.Atoi(os.Getenv("N"))
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		reqs, err := framedPurchases(window, c*window+1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		wg.Go(func() { errs <- pipeline(addr, reqs, n/conns+1, window) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// startBankProcess starts the emulator as a process and returns its
// address; it stops with the benchmark.
func startBankProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchRole+"=emulator")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("emulator process: %v", err)
	}
	return strings.TrimSpace(line)
}

// runClients sends b.N requests (rounded up to a multiple of conns) from
// a client process over conns connections, window in flight on each, and
// reports messages a second and this process's CPU per message: the
// gateway's.
func runClients(b *testing.B, addr string, conns, window int) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchRole+"=clients", "ADDR="+addr,
		"CONNS="+strconv.Itoa(conns), "WINDOW="+strconv.Itoa(window), "N="+strconv.Itoa(b.N))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	b.ReportAllocs()
	before := selfCPU(b)
	b.ResetTimer()
	if err := cmd.Run(); err != nil {
		b.Fatalf("client process: %v", err)
	}
	b.StopTimer()
	after := selfCPU(b)
	msgs := float64(conns * (b.N/conns + 1))
	b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(after.user-before.user)/msgs, "gateway-user-ns/msg")
	b.ReportMetric(float64(after.sys-before.sys)/msgs, "gateway-sys-ns/msg")
	b.ReportMetric(float64(after.user+after.sys-before.user-before.sys)/msgs, "gateway-ns/msg")
}

type cpuTimes struct{ user, sys int64 } // ns

func selfCPU(b *testing.B) cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return cpuTimes{ru.Utime.Nano(), ru.Stime.Nano()}
}
