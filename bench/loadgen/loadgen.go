// Package loadgen drives a gateway (or the bank emulator directly) with
// ISO-8583 traffic and measures it: every reply is checked (MTI, STAN,
// TID, response code) and timed; a mismatch is a failure, never a
// success. Modes: bare (a connection per request, the original's POS
// clients), framed (persistent connections, one request in flight each),
// pipelined (persistent, many in flight), http (JSON over keep-alive).
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Mode is how the generator talks to its target.
type Mode string

// The modes.
const (
	Bare      Mode = "bare"
	Framed    Mode = "framed"
	Pipelined Mode = "pipelined"
	HTTP      Mode = "http"
)

// Config is one run.
type Config struct {
	Mode Mode
	Addr string // host:port (for HTTP, of the gateway's HTTP port)
	// Addrs, when set, spread the binary connections over several
	// gateways in turn (instead of Addr).
	Addrs []string
	// Conns is the number of connections (HTTP: clients); InFlight the
	// requests in flight per connection (pipelined only).
	Conns    int
	InFlight int
	// SharedTID puts every request on one terminal.
	SharedTID bool
	// Mix: "purchase" (default), "echo", or "mixed" (purchases, echoes
	// and refunds in turn).
	Mix      string
	Duration time.Duration
	Warmup   time.Duration
	// Window, when set, is called as the measured time starts (true) and
	// ends (false): what is read around it (a process's CPU) covers the
	// same time as the requests counted. From Run's goroutine.
	Window func(start bool)
	// Pace, for framed mode, is each connection's wait between a reply and
	// its next request (many slow terminals); connections start spread
	// over one Pace.
	Pace    time.Duration
	Dialect *isocodec.Dialect
	// Framing for framed and pipelined modes (bare mode needs none).
	Framing *isocodec.Framing
	// TLS, when set, makes every connection a TLS one (HTTP: https);
	// give it a ClientSessionCache for the resumption a real client
	// does.
	TLS *tls.Config
}

// Result is what a run measured.
type Result struct {
	Mode       Mode          `json:"mode"`
	Conns      int           `json:"conns"`
	InFlight   int           `json:"inFlight"`
	Requests   int64         `json:"requests"`
	Failures   int64         `json:"failures"`
	FailReason string        `json:"failReason,omitempty"`
	Seconds    float64       `json:"seconds"`
	TPS        float64       `json:"tps"`
	P50        time.Duration `json:"p50"`
	P90        time.Duration `json:"p90"`
	P99        time.Duration `json:"p99"`
	P999       time.Duration `json:"p999"`
	Max        time.Duration `json:"max"`
}

// worker state shared by all modes.
type run struct {
	cfg      *Config
	measure  atomic.Bool
	requests atomic.Int64
	failures atomic.Int64
	reason   atomic.Value // first failure reason
	mu       sync.Mutex
	lat      [][]time.Duration
}

func (r *run) fail(reason string) {
	if r.measure.Load() {
		r.failures.Add(1)
	}
	r.reason.CompareAndSwap(nil, reason)
}

func (r *run) ok(lat []time.Duration, d time.Duration) []time.Duration {
	if !r.measure.Load() {
		return lat
	}
	r.requests.Add(1)
	return append(lat, d)
}

// Run drives the target for Warmup, then measures for Duration.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Conns <= 0 || cfg.Dialect == nil || cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: need connections, a dialect and a duration")
	}
	if cfg.InFlight <= 0 || cfg.Mode != Pipelined {
		cfg.InFlight = 1
	}
	if cfg.Mix == "" {
		cfg.Mix = "purchase"
	}
	if (cfg.Mode == Framed || cfg.Mode == Pipelined) && cfg.Framing == nil {
		return Result{}, errors.New("loadgen: framed modes need a framing")
	}
	r := &run{cfg: &cfg, lat: make([][]time.Duration, cfg.Conns)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			switch cfg.Mode {
			case Bare:
				lat = r.bare(ctx, i)
			case Framed, Pipelined:
				lat = r.framed(ctx, i)
			case HTTP:
				lat = r.http(ctx, i)
			}
			r.mu.Lock()
			r.lat[i] = lat
			r.mu.Unlock()
		}()
	}
	if !sleep(ctx, cfg.Warmup) {
		return Result{}, ctx.Err()
	}
	if cfg.Window != nil {
		cfg.Window(true)
	}
	r.measure.Store(true)
	start := time.Now()
	sleep(ctx, cfg.Duration)
	r.measure.Store(false)
	elapsed := time.Since(start)
	if cfg.Window != nil {
		cfg.Window(false)
	}
	cancel()
	wg.Wait()

	var all []time.Duration
	for _, l := range r.lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	res := Result{Mode: cfg.Mode, Conns: cfg.Conns, InFlight: cfg.InFlight, Requests: r.requests.Load(),
		Failures: r.failures.Load(), Seconds: elapsed.Seconds()}
	res.TPS = float64(res.Requests) / elapsed.Seconds()
	if v, ok := r.reason.Load().(string); ok {
		res.FailReason = v
	}
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)-1))
		return all[i]
	}
	res.P50, res.P90, res.P99, res.P999 = pct(.5), pct(.9), pct(.99), pct(.999)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, d) }

// terminal numbers a connection's (and slot's) terminal.
func (r *run) terminal(conn, slot int) string {
	n := 1
	if !r.cfg.SharedTID {
		n = conn*r.cfg.InFlight + slot + 1
	}
	s := strconv.Itoa(n)
	return "00000000"[len(s):] + s
}

// template is a request packed once per terminal and kind; each request
// is made from it with a new STAN and times (AppendEdited: no full pack,
// so the generator is not what limits a run).
type template struct {
	msg  []byte
	scan isocodec.Scan
}

// kindOf is the request kind for sequence number seq.
func (r *run) kindOf(seq int) string {
	if r.cfg.Mix == "mixed" {
		return [...]string{"purchase", "echo", "purchase", "refund"}[seq%4]
	}
	return r.cfg.Mix
}

// fields are a request's fields as JSON-ready text.
func (r *run) fields(tid, kind string) isocodec.Fields {
	d := r.cfg.Dialect
	now := time.Now()
	f := isocodec.Fields{3: "000000", 7: now.UTC().Format("0102150405"), 11: "000001", 41: tid}
	if kind == "echo" {
		f[0], f[3] = "0800", "990000"
		if _, ok := d.Field(24); ok {
			f[24] = "831"
		}
		if d.Mandatory(isocodec.MTINetwork).Has(63) {
			f[63] = "LOAD"
		}
		return f
	}
	// Amount 0: the emulator approves it without running the card down,
	// however long the run.
	f[0], f[4], f[22], f[25], f[42], f[49] = "0200", "000000000000", "051", "00", "000000000000001", "643"
	if kind == "refund" {
		f[3] = "200000"
	}
	n, _ := atoi(tid)
	pan := strconv.Itoa(n)
	f[35] = "4850780000000000"[:16-len(pan)] + pan + "=29122012232800000037"
	if _, ok := d.Field(24); ok {
		f[24] = "200"
	}
	if d.Rules.LocalTime == isocodec.LocalTimeField12And13 {
		f[12], f[13] = now.Format("150405"), now.Format("0102")
	} else {
		f[12] = now.Format("060102150405")
	}
	return f
}

// stamps are a connection's time fields, formatted once a second: they
// change no faster, and formatting them per request was a tenth of the
// generator's time.
type stamps struct {
	sec          int64
	f7, f12, f13 [12]byte
	n7, n12, n13 int
}

func (st *stamps) at(now time.Time, localTime isocodec.LocalTimeRule) {
	if sec := now.Unix(); sec != st.sec || st.n7 == 0 {
		st.sec = sec
		st.n7 = len(isocodec.AppendTransmissionTime(st.f7[:0], now.UTC()))
		if localTime == isocodec.LocalTimeField12And13 {
			st.n12 = len(now.AppendFormat(st.f12[:0], "150405"))
			st.n13 = len(now.AppendFormat(st.f13[:0], "0102"))
		} else {
			st.n12 = len(now.AppendFormat(st.f12[:0], "060102150405"))
			st.n13 = 0
		}
	}
}

// message makes request seq for a terminal into dst, from the terminal's
// template, with its STAN in stan.
func (r *run) message(dst []byte, tmpl map[string]*template, tid string, seq int, now time.Time, st *stamps, stan *[6]byte) ([]byte, error) {
	kind := r.kindOf(seq)
	t := tmpl[kind]
	d := r.cfg.Dialect
	if t == nil {
		msg, err := d.Pack(r.fields(tid, kind))
		if err != nil {
			return dst, err
		}
		t = &template{msg: msg}
		if err := d.Layout.Scan(msg, &t.scan); err != nil {
			return dst, err
		}
		tmpl[kind] = t
	}
	v := seq%999999 + 1
	for i := 5; i >= 0; i-- {
		stan[i] = '0' + byte(v%10)
		v /= 10
	}
	st.at(now, d.Rules.LocalTime)
	var edits [4]isocodec.Edit
	e := append(edits[:0], isocodec.Set(11, stan[:]), isocodec.Set(7, st.f7[:st.n7]))
	if t.scan.Has(12) {
		e = append(e, isocodec.Set(12, st.f12[:st.n12]))
		if st.n13 > 0 {
			e = append(e, isocodec.Set(13, st.f13[:st.n13]))
		}
	}
	return d.Layout.AppendEdited(dst[:0], t.scan.MTI, t.msg, &t.scan, e...)
}

// check verifies a reply: response MTI, STAN, TID and an approved code.
func (r *run) check(msg []byte, stan []byte, tid string, s *isocodec.Scan) string {
	if err := r.cfg.Dialect.Layout.Scan(msg, s); err != nil {
		return "reply does not parse"
	}
	return r.checkScanned(msg, stan, tid, s)
}

// checkScanned is check for a reply s already describes.
func (r *run) checkScanned(msg []byte, stan []byte, tid string, s *isocodec.Scan) string {
	d := r.cfg.Dialect
	if !s.MTI.IsResponse() {
		return "reply MTI " + s.MTI.String() + " is not a response"
	}
	var buf [16]byte
	if string(d.Layout.AppendText(buf[:0], s, msg, 11)) != string(stan) {
		return "reply for another STAN"
	}
	if s.Has(41) && string(d.Layout.AppendText(buf[:0], s, msg, 41)) != tid {
		return "reply for another terminal"
	}
	if code := d.Layout.AppendText(buf[:0], s, msg, 39); !d.IsApproved(code) {
		return "response code " + string(code)
	}
	return ""
}

// String is the human table row.
func (res Result) String() string {
	return fmt.Sprintf("%-9s conns=%-4d inflight=%-3d %10.0f/s  p50=%-9v p90=%-9v p99=%-9v p99.9=%-9v max=%-9v failures=%d %s",
		res.Mode, res.Conns, res.InFlight, res.TPS, res.P50.Round(time.Microsecond), res.P90.Round(time.Microsecond),
		res.P99.Round(time.Microsecond), res.P999.Round(time.Microsecond), res.Max.Round(time.Microsecond), res.Failures, res.FailReason)
}
