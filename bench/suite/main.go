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
	"slices"
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
	steps    = flag.String("steps", "ceilings,journal,bare,tls,links,cluster", "the parts to run, of ceilings,journal,bare,tls,links,cluster")
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

// costs are what the process has spent so far: CPU seconds in user and
// kernel mode (/proc/PID/stat), and its read and write system calls
// (/proc/PID/io: read, recv, pread... and write, send, pwrite...; not
// epoll or the others, which no counter here gives).
type costs struct{ user, sys, reads, writes float64 }

func (p *proc) costs() costs {
	var c costs
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return c
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return c
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	c.user, c.sys = u/100, k/100 // USER_HZ
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(io), "\n") {
			if v, ok := strings.CutPrefix(l, "syscr: "); ok {
				c.reads, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(l, "syscw: "); ok {
				c.writes, _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return c
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
	// The same split, and the gateways' read and write system calls.
	GatewayUser   float64 `json:"gatewayUserSeconds,omitempty"`
	GatewaySys    float64 `json:"gatewaySysSeconds,omitempty"`
	GatewayReads  float64 `json:"gatewayReadSyscalls,omitempty"`
	GatewayWrites float64 `json:"gatewayWriteSyscalls,omitempty"`
	PeakRSSMiB    float64 `json:"gatewayPeakRssMiB,omitempty"`
	TLS           bool    `json:"tls,omitempty"`
	Links         int     `json:"links,omitempty"`
	Instances     int     `json:"instances,omitempty"`
}

// spec is one row: a label and the load that makes it.
type spec struct {
	label string
	cfg   loadgen.Config
}

var (
	framedRuns = []spec{
		{"framed, 1 connection", loadgen.Config{Mode: loadgen.Framed, Conns: 1}},
		{"framed, 64 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 64}},
		{"framed, 512 connections", loadgen.Config{Mode: loadgen.Framed, Conns: 512}},
		{"pipelined, 4 x 64", loadgen.Config{Mode: loadgen.Pipelined, Conns: 4, InFlight: 64}},
	}
	bareRuns = []spec{
		{"bare, 1 client", loadgen.Config{Mode: loadgen.Bare, Conns: 1}},
		{"bare, 64 clients", loadgen.Config{Mode: loadgen.Bare, Conns: 64}},
	}
	httpRuns = []spec{
		{"http, 1 client", loadgen.Config{Mode: loadgen.HTTP, Conns: 1}},
		{"http, 64 clients", loadgen.Config{Mode: loadgen.HTTP, Conns: 64}},
	}
	// journal modes: "disk" (the default: synced), "os" (left to the OS
	// cache) or "off".
	journalModes = []string{"disk", "os", "off"}
)

// bench is one run of the suite: the emulators, the rows so far, and
// the emulator's own ceiling for each row.
type bench struct {
	d                    *isocodec.Dialect
	framing              *isocodec.Framing
	tmp                  string
	bankFramed, bankBare int
	bankFramed2          int // the framed emulator's second port (one bank)
	rows                 []row
	ceiling              map[string]float64
}

// gw is one gateway under test and its ports.
type gw struct {
	p                *proc
	pos, http, admin int
}

func suite() error {
	d := isocodec.SmartVista
	ascii4, _ := isocodec.FramingByName("ascii4", isocodec.FramingConfig{Layout: d.Layout})
	tmp, err := os.MkdirTemp("", "socketqueue-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{d: d, framing: ascii4, tmp: tmp, bankFramed: freePort(), bankFramed2: freePort(), bankBare: freePort(), ceiling: map[string]float64{}}
	stop, err := b.startBanks()
	defer stop()
	if err != nil {
		return err
	}
	all := map[string]func() error{"ceilings": b.ceilings, "journal": b.journalRows, "bare": b.bareRows, "tls": b.tlsRows, "links": b.linkRows, "cluster": b.clusterRows}
	for _, name := range strings.Split(*steps, ",") {
		step, ok := all[name]
		if !ok {
			return fmt.Errorf("-steps: no part %q", name)
		}
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("\nJSON lines:")
	for _, r := range b.rows {
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
	return nil
}

// startBanks starts the emulators, framed and bare; stop ends them.
func (b *bench) startBanks() (stop func(), err error) {
	var procs []*proc
	stop = func() {
		for _, p := range procs {
			p.stop()
		}
	}
	for _, bk := range []struct {
		port int
		args []string
	}{{b.bankFramed, []string{"--bankPorts=" + strconv.Itoa(b.bankFramed2)}}, {b.bankBare, []string{"--useHeader=false"}}} {
		p, err := start("emulator", append([]string{"--echoServerPort=" + strconv.Itoa(bk.port), "--bankHistory=65536"}, bk.args...)...)
		if err != nil {
			return stop, err
		}
		procs = append(procs, p)
		if err := waitPort(bk.port); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

// run measures one row against target; with a gateway, its CPU and peak
// memory too.
func (b *bench) run(target string, g *proc, cfg loadgen.Config) (row, error) {
	var procs []*proc
	if g != nil {
		procs = []*proc{g}
	}
	r, err := b.runOn(procs, cfg)
	r.Target = target
	return r, err
}

// runOn measures one row with the CPU of procs (the gateways) added up
// and the largest peak memory of them.
func (b *bench) runOn(procs []*proc, cfg loadgen.Config) (row, error) {
	cfg.Dialect, cfg.Framing, cfg.Duration, cfg.Warmup = b.d, b.framing, *duration, *warmup
	// The gateways' costs are read as the measured time starts and ends,
	// so that they cover the requests counted (not the warmup's).
	total := func() (t costs) {
		for _, p := range procs {
			c := p.costs()
			t.user, t.sys, t.reads, t.writes = t.user+c.user, t.sys+c.sys, t.reads+c.reads, t.writes+c.writes
		}
		return t
	}
	var before, after costs
	cfg.Window = func(start bool) {
		if start {
			before = total()
		} else {
			after = total()
		}
	}
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		return row{}, err
	}
	r := row{Result: res, Target: "gateway"}
	if len(procs) == 0 {
		return r, nil
	}
	for _, p := range procs {
		r.PeakRSSMiB = max(r.PeakRSSMiB, p.memory("VmHWM"))
	}
	r.GatewayUser, r.GatewaySys = after.user-before.user, after.sys-before.sys
	r.GatewayReads, r.GatewayWrites = after.reads-before.reads, after.writes-before.writes
	r.GatewayCPU = r.GatewayUser + r.GatewaySys
	return r, nil
}

// add records a gateway row with its journal mode and its share of the
// emulator's ceiling.
func (b *bench) add(label, journal string, r row) {
	r.Journal = journal
	if c := b.ceiling[label]; c > 0 {
		r.Ceiling, r.Share = c, r.TPS/c
	}
	b.rows = append(b.rows, r)
	report(label+", journal "+journal, r)
}

// ceilings measures the emulator alone, for each framed and bare row.
func (b *bench) ceilings() error {
	for _, s := range append(append([]spec{}, framedRuns...), bareRuns...) {
		cfg := s.cfg
		port := b.bankFramed
		if cfg.Mode == loadgen.Bare {
			port = b.bankBare
		}
		cfg.Addr = "127.0.0.1:" + strconv.Itoa(port)
		r, err := b.run("emulator", nil, cfg)
		if err != nil {
			return err
		}
		b.ceiling[s.label] = r.TPS
		b.rows = append(b.rows, r)
		report(s.label, r)
	}
	return nil
}

// gateway starts one with POS framing and a journal mode, and waits for
// its bank link; extra are more options (TLS; --upstream for links of
// its own instead of the framed emulator's first port).
func (b *bench) gateway(framing, journal string, extra ...string) (gw, error) {
	pos, http, admin := freePort(), freePort(), freePort()
	dataDir, err := os.MkdirTemp(b.tmp, framing+journal)
	if err != nil {
		return gw{}, err
	}
	args := []string{"--listenPort=" + strconv.Itoa(pos), "--listenHttpPort=" + strconv.Itoa(http), "--adminPort=" + strconv.Itoa(admin),
		"--listenFraming=" + framing,
		"--dataDir=" + dataDir, "--maxQueue=100000"}
	args = append(args, extra...)
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--upstream=") }) {
		args = append(args, "--upstreamHost=127.0.0.1", "--upstreamPort="+strconv.Itoa(b.bankFramed))
	}
	switch journal {
	case "off":
		args = append(args, "--journal=off")
	default:
		args = append(args, "--journal=on", "--journalSync="+journal)
	}
	p, err := start("gateway", args...)
	if err != nil {
		return gw{}, err
	}
	if err := waitPort(admin); err != nil {
		p.stop()
		return gw{}, err
	}
	// Wait for the bank link: /healthz says 200 once it is up.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if up, _ := healthy(admin); up {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return gw{p, pos, http, admin}, nil
}

// journalRows runs the framed and HTTP rows against the three journal
// modes side by side, each row in turn against each (an idle gateway
// costs nothing), so that what they cost is compared within moments,
// not across the minutes of a run; then the idle-connection figure.
func (b *bench) journalRows() error {
	gws := map[string]gw{}
	defer func() {
		for _, g := range gws {
			g.p.stop()
		}
	}()
	for _, journal := range journalModes {
		g, err := b.gateway("header", journal)
		if err != nil {
			return err
		}
		gws[journal] = g
	}
	// A fourth, untouched until the end, for what idle connections cost:
	// the others' heaps have grown under load, and would hide it.
	fresh, err := b.gateway("header", "disk")
	if err != nil {
		return err
	}
	defer fresh.p.stop()
	type costKey struct{ label, journal string }
	tps := map[costKey]float64{}
	waits := map[costKey]journalWait{}
	var costLabels []string
	for _, s := range append(append([]spec{}, framedRuns...), httpRuns...) {
		costLabels = append(costLabels, s.label)
		for _, journal := range journalModes {
			g := gws[journal]
			cfg := s.cfg
			cfg.Addr = "127.0.0.1:" + strconv.Itoa(g.pos)
			if cfg.Mode == loadgen.HTTP {
				cfg.Addr = "127.0.0.1:" + strconv.Itoa(g.http)
			}
			before, ferr := readJournalFigures(g.admin)
			r, err := b.run("gateway", g.p, cfg)
			if err != nil {
				return err
			}
			if after, err := readJournalFigures(g.admin); journal != "off" && ferr == nil && err == nil {
				waits[costKey{s.label, journal}] = after.since(before)
			}
			tps[costKey{s.label, journal}] = r.TPS
			b.add(s.label, journal, r)
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
	fmt.Println("\njournal wait (a purchase's, arrival to record written, against the mean write of a record, same run):")
	for _, l := range costLabels {
		if w, ok := waits[costKey{l, "disk"}]; ok {
			fmt.Printf("  %-26s synced to disk: %s   OS cache: %s\n", l, w, waits[costKey{l, "os"}])
		}
	}
	fmt.Println()
	for _, g := range gws {
		g.p.stop()
	}
	if *idle > 0 {
		if err := idleFigure(fresh.p, fresh.pos, *idle); err != nil {
			fmt.Println("idle connections:", err)
		}
		// As many terminals, each sending a purchase a second.
		label := fmt.Sprintf("framed, %d connections, 1/s each", *idle)
		before, ferr := readJournalFigures(fresh.admin)
		r, err := b.run("gateway", fresh.p, loadgen.Config{Mode: loadgen.Framed, Addr: "127.0.0.1:" + strconv.Itoa(fresh.pos),
			Conns: *idle, Pace: time.Second})
		if err != nil {
			return err
		}
		b.add(label, "disk", r)
		// Arrivals spread over the second, not in step with the commits
		// as a closed loop's are.
		if after, err := readJournalFigures(fresh.admin); ferr == nil && err == nil {
			fmt.Printf("  journal wait, %s, synced to disk: %s\n", label, after.since(before))
		}
	}
	return nil
}

// bareRows runs the original's clients: one message per connection.
func (b *bench) bareRows() error {
	g, err := b.gateway("bare", "disk")
	if err != nil {
		return err
	}
	defer g.p.stop()
	for _, s := range bareRuns {
		cfg := s.cfg
		cfg.Addr = "127.0.0.1:" + strconv.Itoa(g.pos)
		r, err := b.run("gateway", g.p, cfg)
		if err != nil {
			return err
		}
		b.add(s.label, "disk", r)
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
		if n := float64(r.Requests); n > 0 {
			extra += fmt.Sprintf("  per msg: user %.1f µs, sys %.1f µs, %.2f reads, %.2f writes",
				1e6*r.GatewayUser/n, 1e6*r.GatewaySys/n, r.GatewayReads/n, r.GatewayWrites/n)
		}
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
