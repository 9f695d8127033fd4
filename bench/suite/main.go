// Command suite is `make bench`: it starts the bank emulator and the
// gateway as separate processes on loopback, drives each mode with the
// load generator, also straight at the emulator (the ceiling: what this
// machine does with no gateway in between), and prints each mode's
// throughput, latency, the gateway's CPU and peak memory, and its share of
// the ceiling. Three gateways run side by side, with the journal synced to
// disk, left to the OS cache and off; every row runs against each in turn
// and the suite prints what the journal costs. Then it holds 10 000 idle
// POS connections and reports the memory each costs.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/bench/loadgen"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

var (
	bin      = flag.String("bin", "bin/socketqueue", "the socketqueue binary")
	duration = flag.Duration("duration", 5*time.Second, "measured time per run")
	warmup   = flag.Duration("warmup", time.Second, "unmeasured time before each run")
	idle     = flag.Int("idle", 10000, "idle POS connections for the memory figure (0: skip)")
)

func main() {
	flag.Parse()
	if err := suite(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type proc struct {
	cmd     *exec.Cmd
	name    string
	stopped bool
}

func start(name string, args ...string) (*proc, error) {
	cmd := exec.Command(*bin, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &proc{cmd: cmd, name: name}, nil
}

func (p *proc) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// cpu is the process's user+system CPU seconds so far.
func (p *proc) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ
}

// fds counts the process's open descriptors.
func (p *proc) fds() int {
	des, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	return len(des)
}

// memory reads VmRSS or VmHWM (peak) in MiB.
func (p *proc) memory(field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something listens on port.
func waitPort(port int) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %d", port)
}

type row struct {
	loadgen.Result
	Target     string  `json:"target"`
	Journal    string  `json:"journal,omitempty"`
	Ceiling    float64 `json:"ceilingTps,omitempty"`
	Share      float64 `json:"shareOfCeiling,omitempty"`
	GatewayCPU float64 `json:"gatewayCpuSeconds,omitempty"`
	PeakRSSMiB float64 `json:"gatewayPeakRssMiB,omitempty"`
}

func suite() error {
	d := isocodec.SmartVista
	ascii4, _ := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	tmp, err := os.MkdirTemp("", "socketqueue-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bankFramed, bankBare := freePort(), freePort()
	for _, b := range []struct {
		port int
		args []string
	}{{bankFramed, nil}, {bankBare, []string{"--useHeader=false"}}} {
		p, err := start("emulator", append([]string{"--echoServerPort=" + strconv.Itoa(b.port), "--bankHistory=65536"}, b.args...)...)
		if err != nil {
			return err
		}
		defer p.stop()
		if err := waitPort(b.port); err != nil {
			return err
		}
	}

	run := func(target string, gw *proc, cfg loadgen.Config) (row, error) {
		cfg.Dialect, cfg.Framing, cfg.Duration, cfg.Warmup = d, ascii4, *duration, *warmup
		var before float64
		if gw != nil {
			before = gw.cpu()
		}
		res, err := loadgen.Run(context.Background(), cfg)
		if err != nil {
			return row{}, err
		}
		r := row{Result: res, Target: target}
		if gw != nil {
			r.GatewayCPU = gw.cpu() - before
			r.PeakRSSMiB = gw.memory("VmHWM")
		}
		return r, nil
	}
	type spec struct {
		label string
		cfg   loadgen.Config
	}
	framedRuns := []spec{
		{"framed, 1 connection", loadgen.Config{Mode: loadgen.Framed, Conns: 1}},
		{"framed, 64 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 64}},
		{"framed, 512 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 512}},
		{"pipelined, 4 x 64", loadgen.Config{Mode: loadgen.Pipelined, Conns: 4, InFlight: 64}},
	}
	bareRuns := []spec{
		{"bare, 1 client", loadgen.Config{Mode: loadgen.Bare, Conns: 1}},
		{"bare, 64 clients", loadgen.Config{Mode: loadgen.Bare, Conns: 64}},
	}
	httpRuns := []spec{
		{"http, 1 client", loadgen.Config{Mode: loadgen.HTTP, Conns: 1}},
		{"http, 64 clients", loadgen.Config{Mode: loadgen.HTTP, Conns: 64}},
	}

	// Ceilings: the emulator alone.
	ceiling := map[string]float64{}
	var rows []row
	for _, s := range append(append([]spec{}, framedRuns...), bareRuns...) {
		cfg := s.cfg
		port := bankFramed
		if cfg.Mode == loadgen.Bare {
			port = bankBare
		}
		cfg.Addr = "127.0.0.1:" + strconv.Itoa(port)
		r, err := run("emulator", nil, cfg)
		if err != nil {
			return err
		}
		ceiling[s.label] = r.TPS
		rows = append(rows, r)
		report(s.label, r)
	}

	// journal: "disk" (the default: synced), "os" (left to the OS cache)
	// or "off".
	gateway := func(framing, journal string) (*proc, int, int, error) {
		pos, http := freePort(), freePort()
		dataDir, err := os.MkdirTemp(tmp, framing+journal)
		if err != nil {
			return nil, 0, 0, err
		}
		args := []string{"--upstreamHost=127.0.0.1", "--upstreamPort=" + strconv.Itoa(bankFramed),
			"--listenPort=" + strconv.Itoa(pos), "--listenHttpPort=" + strconv.Itoa(http), "--listenFraming=" + framing,
			"--dataDir=" + dataDir, "--maxQueue=100000"}
		switch journal {
		case "off":
			args = append(args, "--journal=off")
		default:
			args = append(args, "--journal=on", "--journalSync="+journal)
		}
		p, err := start("gateway", args...)
		if err != nil {
			return nil, 0, 0, err
		}
		if err := waitPort(http); err != nil {
			p.stop()
			return nil, 0, 0, err
		}
		// Wait for the bank link: /healthz says 200 once it is up.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if up, _ := healthy(http); up {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return p, pos, http, nil
	}

	// The three journal modes run side by side, each row in turn against
	// each (an idle gateway costs nothing), so that what they cost is
	// compared within moments, not across the minutes of a run.
	type gwRef struct {
		p         *proc
		pos, http int
	}
	modes := []string{"disk", "os", "off"}
	gws := map[string]gwRef{}
	for _, journal := range modes {
		gw, pos, http, err := gateway("header", journal)
		if err != nil {
			return err
		}
		defer gw.stop()
		gws[journal] = gwRef{gw, pos, http}
	}
	// A fourth, untouched until the end, for what idle connections cost:
	// the others' heaps have grown under load, and would hide it.
	fresh, freshPos, _, err := gateway("header", "disk")
	if err != nil {
		return err
	}
	defer fresh.stop()
	type costKey struct{ label, journal string }
	tps := map[costKey]float64{}
	var costLabels []string
	for _, s := range append(append([]spec{}, framedRuns...), httpRuns...) {
		costLabels = append(costLabels, s.label)
		for _, journal := range modes {
			g := gws[journal]
			cfg := s.cfg
			cfg.Addr = "127.0.0.1:" + strconv.Itoa(g.pos)
			if cfg.Mode == loadgen.HTTP {
				cfg.Addr = "127.0.0.1:" + strconv.Itoa(g.http)
			}
			r, err := run("gateway", g.p, cfg)
			if err != nil {
				return err
			}
			r.Journal = journal
			if c := ceiling[s.label]; c > 0 {
				r.Ceiling, r.Share = c, r.TPS/c
			}
			tps[costKey{s.label, journal}] = r.TPS
			rows = append(rows, r)
			report(s.label+", journal "+journal, r)
		}
	}
	fmt.Println("\njournal cost (throughput lost against --journal=off, same row, run side by side):")
	for _, l := range costLabels {
		off := tps[costKey{l, "off"}]
		if off == 0 {
			continue
		}
		fmt.Printf("  %-26s synced to disk %4.0f%%   OS cache %4.0f%%\n", l,
			100*(1-tps[costKey{l, "disk"}]/off), 100*(1-tps[costKey{l, "os"}]/off))
	}
	fmt.Println()
	for _, journal := range modes {
		gws[journal].p.stop()
	}
	if *idle > 0 {
		g := gwRef{p: fresh, pos: freshPos}
		if err := idleFigure(g.p, g.pos, *idle); err != nil {
			fmt.Println("idle connections:", err)
		}
		// As many terminals, each sending a purchase a second.
		label := fmt.Sprintf("framed, %d connections, 1/s each", *idle)
		r, err := run("gateway", g.p, loadgen.Config{Mode: loadgen.Framed, Addr: "127.0.0.1:" + strconv.Itoa(g.pos),
			Conns: *idle, Pace: time.Second})
		if err != nil {
			return err
		}
		r.Journal = "disk"
		rows = append(rows, r)
		report(label+", journal disk", r)
	}
	fresh.stop()
	gw, pos, _, err := gateway("bare", "disk")
	if err != nil {
		return err
	}
	for _, s := range bareRuns {
		cfg := s.cfg
		cfg.Addr = "127.0.0.1:" + strconv.Itoa(pos)
		r, err := run("gateway", gw, cfg)
		if err != nil {
			gw.stop()
			return err
		}
		r.Journal = "disk"
		if c := ceiling[s.label]; c > 0 {
			r.Ceiling, r.Share = c, r.TPS/c
		}
		rows = append(rows, r)
		report(s.label+", journal disk", r)
	}
	gw.stop()

	fmt.Println("\nJSON lines:")
	for _, r := range rows {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	return nil
}

func healthy(port int) (bool, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.Contains(line, " 200 "), err
}

func report(label string, r row) {
	extra := ""
	if r.Target == "gateway" {
		extra = fmt.Sprintf("  cpu=%.1fs rss=%.0fMiB", r.GatewayCPU, r.PeakRSSMiB)
		if r.Ceiling > 0 {
			extra += fmt.Sprintf("  %.0f%% of ceiling", 100*r.Share)
		}
	}
	fmt.Printf("%-8s %-34s %s%s\n", r.Target, label, r.Result.String(), extra)
}

// idleFigure opens n idle connections to the gateway's POS port and
// reports the resident memory they add.
func idleFigure(gw *proc, port, n int) error {
	before, fdsBefore := gw.memory("VmRSS"), gw.fds()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			if errors.Is(err, syscall.EMFILE) {
				return fmt.Errorf("after %d connections: %w (raise ulimit -n)", len(conns), err)
			}
			return err
		}
		conns = append(conns, c)
	}
	// The gateway has them all once it holds a descriptor for each.
	deadline := time.Now().Add(30 * time.Second)
	for gw.fds()-fdsBefore < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway accepted %d of %d connections", gw.fds()-fdsBefore, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := gw.memory("VmRSS")
	fmt.Printf("gateway  %d idle POS connections (%d descriptors more): RSS %.0f MiB -> %.0f MiB (%.1f KiB each)\n",
		n, gw.fds()-fdsBefore, before, after, (after-before)*1024/float64(n))
	return nil
}
