// Command socketqueue is the gateway, the bank emulator ("Socket Bank")
// and the test clients in one binary; the options decide which run.
//
//	socketqueue --echoServerPort=5000                      # bank emulator alone
//	socketqueue --testTargetHost=localhost --testTargetPort=2014 --testClients=10 --vv
//	socketqueue --help
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/socketqueue/socketqueue-go/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, hup, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code: 0 done, 1 failed,
// 2 called wrongly. hup delivers SIGHUP: reopen the log file, reset the
// figures.
func run(ctx context.Context, hup <-chan os.Signal, args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, env)
	if err != nil {
		fmt.Fprintln(stderr, "socketqueue:", err)
		return 2
	}
	switch {
	case cfg.Help:
		config.WriteHelp(stdout)
		return 0
	case cfg.HelpJSON:
		if err := config.WriteHelpJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "socketqueue:", err)
			return 1
		}
		return 0
	}
	procsForSyscalls(cfg.Loops)
	p, err := newProcess(cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socketqueue:", err)
		if errors.Is(err, config.ErrUsage) {
			return 2
		}
		return 1
	}
	defer p.close()
	if err := p.run(ctx, hup); err != nil {
		fmt.Fprintln(stderr, "socketqueue:", err)
		return 1
	}
	return 0
}

// procsForSyscalls adds a P for each event loop and one for the journal's
// writer (or the emulator's loop), unless GOMAXPROCS is set. A loop
// waiting in epoll_wait and the writer in fdatasync keep their P until the
// runtime's monitor takes it back, and the goroutines ready meanwhile (the
// HTTP handlers) wait for that: with a P each to spare, 64 HTTP clients
// with the journal synced to disk went from 9 000 to 24 000 purchases/s
// on 2 cores; the binary modes did not change.
func procsForSyscalls(loops int) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + loops + 1)
}
