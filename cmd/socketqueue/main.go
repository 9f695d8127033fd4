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
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/socketqueue/socketqueue-go/config"
	"github.com/socketqueue/socketqueue-go/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	code := run(ctx, hup, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code: 0 done, 1 failed,
// 2 called wrongly. hup delivers SIGHUP (reopen the log file, reset the
// figures, re-read TLS files, as the original did), SIGUSR1 (reopen the
// log file only: logrotate) and SIGUSR2 (reset the figures only).
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
	case cfg.Version:
		v := version.Get()
		fmt.Fprintf(stdout, "socketqueue %s (revision %s, %s)\n", v, v.Revision, v.Go)
		return 0
	case cfg.Probe != "":
		return probe(cfg.Probe, stdout, stderr)
	case cfg.HelpJSON:
		if err := config.WriteHelpJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "socketqueue:", err)
			return 1
		}
		return 0
	}
	procsForSyscalls(cfg)
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
		if errors.Is(err, config.ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// procsForSyscalls adds a P for each event loop and one for the journal's
// writer when the journal syncs to disk, unless GOMAXPROCS is set. The
// writer waits in fdatasync, and a loop in epoll_wait, keeping its P until
// the runtime's monitor takes it back, and the goroutines ready meanwhile
// (the HTTP handlers) wait for that: with the Ps to spare, 64 HTTP
// clients with the journal synced went from 10 000-18 000 to 29 000
// purchases/s on 2 cores. Without the disk journal the extra Ps only
// spin: one in flight on 64 framed connections lost 10%.
func procsForSyscalls(cfg *config.Config) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set || cfg.Journal == "off" || cfg.JournalSync != "disk" {
		return
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + cfg.Loops + 1)
}

// probe GETs url: 0 on 200, 1 otherwise, saying why on stderr.
func probe(url string, stdout, stderr io.Writer) int {
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "socketqueue: probe:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "socketqueue: probe: %s: %s %s\n", url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s", body)
	return 0
}
