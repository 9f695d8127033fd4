package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/internal/boundaddr"
	"github.com/socketqueue/socketqueue-go/internal/gnetstop"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/internal/tlsloop"
	"github.com/socketqueue/socketqueue-go/internal/version"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/logging"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// Gateway is one running gateway.
type Gateway struct {
	gnet.BuiltinEventEngine
	*relay
	cfg   Config
	links *links
	codes failCodes

	eng                   gnet.Engine
	listeners             gnetstop.Listeners // the engine's, shut to stop it
	posListen, upListen   string             // the addresses gnet was given
	posPort, upListenPort int                // their bound ports, telling them apart in OnOpen
	addrs                 map[int]*net.TCPAddr
	boot                  chan error
	ready                 chan struct{} // closed by the first OnTick: the loops run
	readyOnce             sync.Once
	engineDone            chan error

	http  *httpFront
	admin *adminFront
	// posTLS and upTLS end TLS for the POS port and the bank listener;
	// gnet then listens only on an internal port.
	posTLS, upTLS *tlsFront
	reloads       []reloadable // each TLS in use, for ReloadTLS

	posConns  sync.Map // *posConn -> struct{}, for idle checks
	posLimits *connLimits

	// rrn numbers the gateway's own answers (0810s to the bank).
	rrn  atomic.Uint64
	stan atomic.Uint64

	lastSlow time.Time // the ticker's last once-a-second checks

	cancel   context.CancelFunc
	bg       sync.WaitGroup
	stopOnce sync.Once
}

var _ gnet.EventHandler = (*Gateway)(nil)

// New checks cfg and makes a gateway; Start runs it.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, codes: failCodesFor(cfg.Dialect.Rules.ApprovedCode),
		boot: make(chan error, 1), ready: make(chan struct{}), engineDone: make(chan error, 1), addrs: map[int]*net.TCPAddr{}}
	g.links = newLinks(g)
	if g.cfg.UpstreamTLS != nil && len(g.cfg.UpstreamAddrs) > 0 {
		client, err := tlsconf.NewClient(*g.cfg.UpstreamTLS)
		if err != nil {
			return nil, fmt.Errorf("server: bank link: %w", err)
		}
		for _, l := range g.links.all {
			l.tls = client
		}
		g.reloads = append(g.reloads, reloadable{"bank link", client})
	}
	g.relay = newRelay(&g.cfg, g.links)
	g.posLimits = newConnLimits(cfg.MaxConns, cfg.MaxConnsPerAddr)
	now := cfg.Clock.Now()
	g.rrn.Store(uint64(now.Unix()%1_000_000) * 1_000_000)
	if m := cfg.Metrics; m != nil {
		g.registerMetrics(m)
	}
	g.stan.Store(uint64(now.UnixNano()/1000) % 900_000)
	return g, nil
}

// Table is the gateway's dispatch table (for figures and tests).
func (g *Gateway) Table() *dispatch.Table { return g.table }

// ReverseTakenOver reverses a purchase taken over from a lapsed instance
// of the cluster, recorded under id. Safe from any goroutine.
func (g *Gateway) ReverseTakenOver(id uint64, msg []byte) {
	g.rev.Decide(id, msg, "taken over from a lapsed instance", g.now())
}

// Reversals is the schedule of pending reversals and their figures.
func (g *Gateway) Reversals() *reversal.Schedule { return g.rev.Schedule() }

// LinkUp reports whether a bank link is connected.
func (g *Gateway) LinkUp() bool { return g.links.Up() }

// WaitLink blocks until a bank link is up (or none is), or ctx ends.
func (g *Gateway) WaitLink(ctx context.Context, up bool) error {
	for {
		ch := g.links.changed()
		if g.links.Up() == up {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// POSAddr, UpstreamListenAddr and HTTPAddr are the bound addresses (nil
// when not listening).
func (g *Gateway) POSAddr() *net.TCPAddr {
	if g.posTLS != nil {
		return g.posTLS.addr()
	}
	return g.addrs[g.posPort]
}

// UpstreamListenAddr is where the bank connects in listen mode.
func (g *Gateway) UpstreamListenAddr() *net.TCPAddr {
	if g.upTLS != nil {
		return g.upTLS.addr()
	}
	return g.addrs[g.upListenPort]
}

// AdminAddr is the admin listener's address (nil when off).
func (g *Gateway) AdminAddr() net.Addr {
	if g.admin == nil {
		return nil
	}
	return g.admin.ln.Addr()
}

// HTTPAddr is the HTTP API's address.
func (g *Gateway) HTTPAddr() net.Addr {
	if g.http == nil {
		return nil
	}
	return g.http.ln.Addr()
}

// ReloadTLS reads the TLS listeners' certificates and keys again (on
// SIGHUP): new handshakes get them, open connections keep theirs. On an
// error, naming the file, the old ones stay.
func (g *Gateway) ReloadTLS() error {
	var errs []error
	for _, r := range g.reloads {
		if err := r.tls.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("server: %s: %w", r.what, err))
		}
	}
	return errors.Join(errs...)
}

// reloadable is TLS that SIGHUP reads again.
type reloadable struct {
	what string
	tls  interface{ Reload() error }
}

// Start opens the listeners, starts dialling the bank and returns once
// everything listens.
func (g *Gateway) Start() error {
	cfg := &g.cfg
	// gnet binds; OnBoot learns each listener's port from its socket
	// (the port may be 0), so nothing is bound twice.
	g.posListen = cfg.POSAddr
	if g.posListen == "" || cfg.POSTLS != nil {
		// gnet needs a listener to run; an internal one on loopback,
		// whose connections are closed at once.
		g.posListen = "127.0.0.1:0"
	}
	addrs := []string{"tcp://" + g.posListen}
	if cfg.UpstreamListen != "" && cfg.UpstreamTLS == nil {
		g.upListen = cfg.UpstreamListen
		if g.upListen == g.posListen {
			// Both on port 0 of one host: gnet finds a listener by the
			// address it was given, so spell this one apart ("00" is 0).
			host, port, _ := net.SplitHostPort(g.upListen)
			g.upListen = net.JoinHostPort(host, "0"+port)
		}
		addrs = append(addrs, "tcp://"+g.upListen)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(cfg.Loops > 1),
		gnet.WithNumEventLoop(cfg.Loops),
		gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true),
		gnet.WithReusePort(reusePort(cfg.Loops)),
		gnet.WithTicker(true),
		gnet.WithLogger(g.listeners.Logger(logging.Gnet(g.log))),
	}
	if reusePort(cfg.Loops) {
		if err := exclusive(addrs); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	go func() {
		err := gnet.Rotate(g, addrs, opts...)
		g.listeners.Close()
		select {
		case g.boot <- fmt.Errorf("server: gnet: %w", err):
		default:
		}
		g.engineDone <- err
	}()
	if err := <-g.boot; err != nil {
		return err
	}
	// Register (the dialled link) is only safe once the loops run, which
	// the first OnTick shows; OnBoot comes too early.
	select {
	case <-g.ready:
	case err := <-g.engineDone:
		return fmt.Errorf("server: gnet stopped at start: %v", err)
	}
	if err := g.openFronts(); err != nil {
		g.closeFronts()
		g.stopEngine(context.Background())
		return err
	}
	if err := g.rev.Recover(g.now()); err != nil {
		g.closeFronts()
		g.stopEngine(context.Background())
		return fmt.Errorf("server: journal: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for _, l := range g.links.all {
		if l.addr != "" {
			g.bg.Add(1)
			go func() { defer g.bg.Done(); l.dial(ctx) }()
		}
	}
	g.log.Info().Str("pos", addrString(g.POSAddr(), cfg.POSAddr != "")).Bool("posTls", cfg.POSTLS != nil).
		Str("bankListener", addrString(g.UpstreamListenAddr(), cfg.UpstreamListen != "")).Bool("bankTls", cfg.UpstreamTLS != nil).
		Str("http", fmt.Sprint(g.HTTPAddr())).Bool("httpTls", cfg.HTTPTLS != nil).
		Str("admin", fmt.Sprint(g.AdminAddr())).Bool("apiAuth", cfg.APITokens != nil).
		Str("dialect", cfg.Dialect.Name).Str("version", version.Get().String()).Msg("gateway listening")
	return nil
}

// openFronts opens the listeners not on the event loops: the HTTP API,
// the admin port, and the TLS ones.
func (g *Gateway) openFronts() error {
	cfg := &g.cfg
	var err error
	if cfg.POSTLS != nil {
		if g.posTLS, err = g.listenTLS(cfg.POSAddr, "POS port", false, *cfg.POSTLS, g.posLimits, tlsloop.Wrap, g.enrollPOS); err != nil {
			return fmt.Errorf("server: POS port %s: %w", cfg.POSAddr, err)
		}
		g.reloads = append(g.reloads, reloadable{"POS port", g.posTLS.tls})
	}
	if cfg.UpstreamListen != "" && cfg.UpstreamTLS != nil {
		f := cfg.UpstreamTLS
		files := tlsconf.ServerFiles{Cert: f.Cert, Key: f.Key, ClientCA: f.CA}
		if g.upTLS, err = g.listenTLS(cfg.UpstreamListen, "bank listener", true, files, nil, nil, g.enrollBank); err != nil {
			return fmt.Errorf("server: bank listener %s: %w", cfg.UpstreamListen, err)
		}
		g.reloads = append(g.reloads, reloadable{"bank listener", g.upTLS.tls})
	}
	if cfg.HTTPAddr != "" {
		if g.http, err = newHTTPFront(g, cfg.HTTPAddr); err != nil {
			return fmt.Errorf("server: HTTP API %s: %w", cfg.HTTPAddr, err)
		}
		if g.http.tls != nil {
			g.reloads = append(g.reloads, reloadable{"HTTP API", g.http.tls})
		}
	}
	if cfg.AdminAddr != "" {
		if g.admin, err = newAdminFront(g, cfg.AdminAddr); err != nil {
			return fmt.Errorf("server: admin %s: %w", cfg.AdminAddr, err)
		}
	}
	return nil
}

// closeFronts closes what openFronts opened, after a failed start.
func (g *Gateway) closeFronts() {
	if g.http != nil {
		g.http.shutdown()
	}
	if g.admin != nil {
		g.admin.shutdown()
	}
	g.closeTLSFronts()
}

func (g *Gateway) closeTLSFronts() {
	for _, f := range []*tlsFront{g.posTLS, g.upTLS} {
		if f != nil {
			f.close()
		}
	}
}

func addrString(a *net.TCPAddr, real bool) string {
	if a == nil || !real {
		return "off"
	}
	return a.String()
}

// OnBoot learns the listeners' bound addresses.
func (g *Gateway) OnBoot(eng gnet.Engine) gnet.Action {
	g.eng = eng
	for _, l := range []struct {
		addr, what string
		port       *int
	}{{g.posListen, "POS listener", &g.posPort}, {g.upListen, "bank listener", &g.upListenPort}} {
		if l.addr == "" {
			continue
		}
		fd, err := eng.DupListener("tcp", l.addr)
		var a *net.TCPAddr
		if err == nil {
			g.listeners.Add(fd)
			a, err = boundaddr.Of(fd)
		}
		if err != nil {
			g.boot <- fmt.Errorf("server: %s %s: %w", l.what, l.addr, err)
			return gnet.Shutdown
		}
		*l.port = a.Port
		g.addrs[a.Port] = a
	}
	g.boot <- nil
	return gnet.None
}

// OnOpen tells the bank link from POS clients.
func (g *Gateway) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	var looped *posTag // a TLS POS client, which holds its place in the limits
	switch t := c.Context().(type) {
	case upstreamTag:
		l := t.link
		if l == nil {
			l = g.links.listened()
		}
		l.attach(c, t.peerTag)
		c.SetContext(&upstreamConn{link: l})
		g.signOnIfDue(l)
		return nil, gnet.None
	case posTag:
		looped = &t
	}
	switch {
	case looped == nil && g.upListenPort != 0 && localPort(c) == g.upListenPort:
		l := g.links.listened()
		l.attach(c, peerTag{addr: c.RemoteAddr()})
		c.SetContext(&upstreamConn{link: l})
		g.signOnIfDue(l)
		return nil, gnet.None
	case looped == nil && (g.cfg.POSAddr == "" || g.cfg.POSTLS != nil):
		return nil, gnet.Close // the internal listener serves nobody
	case g.stopping.Load():
		if looped != nil {
			g.posLimits.release(looped.addr)
		}
		return nil, gnet.Close
	}
	peer := peerTag{addr: c.RemoteAddr()}
	if looped != nil {
		peer = looped.peerTag
	} else if reason := g.posLimits.take(peer.addr); reason != "" {
		g.refuseConn(reason, peer.addr)
		return nil, gnet.Close
	}
	p := newPOSConn(g, c, peer.addr.String())
	c.SetContext(p)
	if looped != nil {
		p.tls = looped.conn
		p.tls.Attach(c)
	}
	g.posConns.Store(p, struct{}{})
	ev := g.log.Info().Str("peer", p.peer)
	if peer.identity != "" {
		ev = ev.Str("client", peer.identity)
	}
	ev.Bool("tls", peer.tls).Msg("POS client connected")
	return nil, gnet.None
}

// localPort is the port c was accepted on. gnet reports the address its
// listener was given, which says 0 when the port was chosen by the kernel;
// then the socket is asked (tests; a production port is never 0).
func localPort(c gnet.Conn) int {
	if local, ok := c.LocalAddr().(*net.TCPAddr); ok && local.Port != 0 {
		return local.Port
	}
	if a, err := boundaddr.Of(c.Fd()); err == nil {
		return a.Port
	}
	return 0
}

// OnClose fails the link's requests when the link goes, or marks a POS
// client gone.
func (g *Gateway) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *upstreamConn:
		if x.link.detach(c, err) {
			g.failLink(x.link.id, ErrLinkDropped)
			// A handoff may have woken this link just before it went.
			if g.relay.runHanded(c.EventLoop()) {
				g.links.flush(c.EventLoop(), g.now().UnixNano())
			}
		}
	case *posConn:
		x.closed.Store(true)
		g.posConns.Delete(x)
		g.posLimits.release(c.RemoteAddr())
		g.log.Info().Str("peer", x.peer).Msg("POS client disconnected")
	}
	return gnet.None
}

// OnTraffic routes to the link or the POS client.
func (g *Gateway) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *upstreamConn:
		return g.upstreamTraffic(c, x)
	case *posConn:
		return x.traffic()
	}
	return gnet.Close
}

// OnTick drives the timers, on gnet's ticker goroutine: request
// deadlines every 10 ms; idle clients, an idle link and echoes every
// second.
func (g *Gateway) OnTick() (time.Duration, gnet.Action) {
	g.readyOnce.Do(func() { close(g.ready) })
	now := g.now()
	g.expire(now)
	g.sendDueReversals(now)
	if now.Sub(g.lastSlow) >= time.Second {
		g.lastSlow = now
		g.idleChecks(now)
	}
	return 10 * time.Millisecond, gnet.None
}

// refuseConn counts and logs a connection closed at once by the limits.
func (g *Gateway) refuseConn(reason string, peer net.Addr) {
	g.cfg.Metrics.Refused(reason)
	if e := g.log.Debug(); e.Enabled() {
		e.Str("peer", peer.String()).Str("reason", reason).Msg("connection refused")
	}
}

func (g *Gateway) idleChecks(now time.Time) {
	if d := g.cfg.FirstByte; d > 0 {
		g.posConns.Range(func(k, _ any) bool {
			p := k.(*posConn)
			if !p.heard.Load() && now.Sub(p.opened) >= d {
				g.cfg.Metrics.Refused(refusedSilent)
				g.log.Info().Str("peer", p.peer).Msg("POS client sent nothing in time, closing")
				p.close()
			}
			return true
		})
	}
	if d := g.cfg.ClientIdle; d > 0 {
		g.posConns.Range(func(k, _ any) bool {
			p := k.(*posConn)
			if p.inflight.Load() == 0 && now.Sub(time.Unix(0, p.last.Load())) >= d {
				g.log.Info().Str("peer", p.peer).Msg("POS client idle, closing")
				p.close()
			}
			return true
		})
	}
	for _, l := range g.links.all {
		g.linkChecks(l, now)
	}
}

// linkChecks closes a link idle both ways past --upstreamTimeout and
// sends an echo on one that has heard nothing from the bank for the echo
// interval.
func (g *Gateway) linkChecks(l *link, now time.Time) {
	if !l.Up() {
		return
	}
	if d := g.cfg.UpstreamIdle; d > 0 {
		if quiet := now.Sub(time.Unix(0, l.lastIO.Load())); quiet >= d {
			g.log.Warn().Str("link", l.name).Stringer("quiet", quiet).Msg("bank link idle, closing")
			l.close()
			return
		}
	}
	if g.cfg.SignOn && l.signOn.Load() != signedOn {
		g.signOnIfDue(l) // a sign-on that failed is tried again
		return
	}
	if d := g.cfg.EchoInterval; d > 0 && now.Sub(time.Unix(0, l.lastRead.Load())) >= d {
		g.sendEcho(l)
	}
}

// Shutdown stops taking clients, waits (until ctx ends) for the replies
// still due and for the reversals due now, then closes everything. What
// is still unsettled stays in the journal for the next start; the caller
// closes the journal after Shutdown.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() {
		g.stopping.Store(true)
		if g.http != nil {
			g.http.closeListener()
		}
		if g.posTLS != nil {
			_ = g.posTLS.ln.Close() // no new clients; the open ones stay
		}
		for g.table.Held() > 0 && ctx.Err() == nil {
			clock.Sleep(ctx, 10*time.Millisecond)
		}
		// Reversals due now get one try while the link is up, bounded
		// by a short timeout; later retries wait for the next start.
		deadline := time.Now().Add(g.cfg.ShortTimeout)
		for g.links.Ready() && g.reversalsDue() && time.Now().Before(deadline) && ctx.Err() == nil {
			clock.Sleep(ctx, 10*time.Millisecond)
		}
		g.signOff(ctx)
		g.failAll(ErrStopping)
		if g.cancel != nil {
			g.cancel()
		}
		g.bg.Wait()
		if g.http != nil {
			if e := g.http.shutdown(); e != nil {
				err = e
			}
		}
		g.closeTLSFronts()
		if e := g.stopEngine(ctx); e != nil && err == nil {
			err = e
		}
		if g.admin != nil {
			if e := g.admin.shutdown(); e != nil && err == nil {
				err = e
			}
		}
		if g.journal != nil {
			// A local journal may be closed already: Close committed what
			// was queued.
			if e := g.journal.Flush(); e != nil && !errors.Is(e, journal.ErrClosed) && err == nil {
				err = e
			}
		}
		if n := g.rev.Schedule().Len(); n > 0 {
			if g.journal != nil || g.cfg.Cluster != nil {
				g.log.Warn().Int("reversals", n).Msg("reversals still pending; the journal keeps them for the next start")
			} else {
				g.log.Error().Int("reversals", n).Msg("reversals still pending and lost with the stop: the journal is off (--journal=off); reverse them by hand from this log")
			}
		}
	})
	return err
}

// reversalsDue reports whether a reversal is due now or being sent.
func (g *Gateway) reversalsDue() bool {
	return g.rev.Schedule().DueBy(g.now())
}

// stopEngine shuts the listeners, which stops the engine once every
// connection accepted is served and closed (Engine.Stop alone could
// leave one open and unserved: see gnetstop).
func (g *Gateway) stopEngine(ctx context.Context) error {
	if shut, err := g.listeners.Shut(); !shut {
		if err != nil {
			g.log.Warn().Err(err).Msg("stopping the engine instead")
		}
		if err := g.eng.Stop(ctx); err != nil {
			return fmt.Errorf("server: stop: %w", err)
		}
	}
	select {
	case <-g.engineDone:
		g.tallies.stopped.Store(true) // after the loops' last count
	case <-ctx.Done():
		return fmt.Errorf("server: stop: %w", ctx.Err())
	}
	return nil
}

// registerMetrics exposes what the gateway already keeps, read at scrape
// time.
func (g *Gateway) registerMetrics(m *metrics.Metrics) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, l := range g.links.all {
		l.metric = m.Link(l.name)
		m.LinkGaugeFunc("socketqueue_bank_link_up", "1 while the bank link is connected.", l.name, func() float64 { return b(l.Up()) })
		m.LinkGaugeFunc("socketqueue_bank_link_ready", "1 while the bank link takes traffic (connected, answering its echoes).", l.name, func() float64 { return b(l.Ready()) })
		m.LinkCounterFunc("socketqueue_bank_link_drops_total", "Times the bank link went down.", l.name, func() float64 { return float64(l.downs.Load()) })
		m.LinkCounterFunc("socketqueue_bank_link_requests_total", "Clients' requests written on the bank link (the gateway's own messages not counted).", l.name, func() float64 { return float64(l.sent.Load()) })
		m.LinkGaugeFunc("socketqueue_bank_link_in_flight", "Requests written on the bank link awaiting their reply.", l.name, func() float64 {
			counts := make([]int, len(g.links.all))
			g.table.SentByLink(counts)
			return float64(counts[l.id])
		})
		m.LinkGaugeFunc("socketqueue_bank_link_echo_misses", "Echoes in a row the bank left unanswered on the link.", l.name, func() float64 { return float64(l.misses.Load()) })
	}
	m.CounterFunc("socketqueue_bank_replies_cross_link_total", "Replies that came on another link than their request.", func() float64 { return float64(g.crossLink.Load()) })
	m.GaugeFunc("socketqueue_requests_in_flight", "Requests at the bank awaiting a reply.", func() float64 { return float64(g.table.Counts().InFlight) })
	m.GaugeFunc("socketqueue_requests_waiting", "Requests waiting for their terminal's turn.", func() float64 { return float64(g.table.Counts().Waiting) })
	m.GaugeFunc("socketqueue_pos_connections", "Open binary POS connections.", func() float64 {
		n := 0
		g.posConns.Range(func(any, any) bool { n++; return true })
		return float64(n)
	})
	rc := func(f func(reversal.Counts) int64) func() float64 {
		return func() float64 { return float64(f(g.rev.Schedule().Counts())) }
	}
	m.CounterFunc("socketqueue_reversals_decided_total", "Purchases found to need a reversal.", rc(func(c reversal.Counts) int64 { return c.Decided }))
	m.CounterFunc("socketqueue_reversals_recovered_total", "Of those, found open in the journal at start.", rc(func(c reversal.Counts) int64 { return c.Recovered }))
	m.CounterFunc("socketqueue_reversals_sent_total", "Reversal messages sent, retries included.", rc(func(c reversal.Counts) int64 { return c.Sent }))
	m.CounterFunc("socketqueue_reversals_approved_total", "Reversals the bank approved.", rc(func(c reversal.Counts) int64 { return c.Approved }))
	m.CounterFunc("socketqueue_reversals_retried_total", "Reversal tries that failed and were scheduled again.", rc(func(c reversal.Counts) int64 { return c.Retried }))
	m.CounterFunc("socketqueue_reversals_rejected_total", "Reversals with a final answer other than approved.", rc(func(c reversal.Counts) int64 { return c.Rejected }))
	m.CounterFunc("socketqueue_reversals_given_up_total", "Reversals given up after the last try: alert on this.", rc(func(c reversal.Counts) int64 { return c.GivenUp }))
	m.CounterFunc("socketqueue_reversals_late_total", "Reversal answers that came after their try timed out and settled it (no retry sent).", rc(func(c reversal.Counts) int64 { return c.Late }))
	m.GaugeFunc("socketqueue_reversals_pending", "Reversals not yet done.", func() float64 { return float64(g.rev.Schedule().Len()) })
	if c := g.cfg.Cluster; c != nil {
		f := c.Figures()
		m.GaugeFunc("socketqueue_cluster_connected", "1 while the gateway is connected to the cluster.", func() float64 { return b(c.Connected()) })
		m.GaugeFunc("socketqueue_cluster_lease_age_seconds", "Since this instance last renewed its lease (the others take over past --clusterLease).", func() float64 { return c.LeaseAge().Seconds() })
		m.CounterFunc("socketqueue_cluster_holds_total", "Terminals held in the cluster for a purchase (a record acknowledged by a quorum).", func() float64 { return float64(f.Holds.Load()) })
		m.CounterFunc("socketqueue_cluster_hold_seconds_total", "Time from a purchase's arrival at the cluster to its record's acknowledgement, added up (over holds_total: the mean).", func() float64 { return float64(f.HoldNanos.Load()) / 1e9 })
		m.CounterFunc("socketqueue_cluster_holds_replaced_total", "Holds made by replacing the terminal's settled record, one write where a delete and a create are two.", func() float64 { return float64(f.Replaced.Load()) })
		m.CounterFunc("socketqueue_cluster_lock_waits_total", "Purchases whose terminal was first held by another instance.", func() float64 { return float64(f.Waits.Load()) })
		m.CounterFunc("socketqueue_cluster_takeovers_total", "Purchases taken over from lapsed instances, to reverse.", func() float64 { return float64(f.TakenOver.Load()) })
		m.CounterFunc("socketqueue_cluster_lease_lapses_total", "Times this instance's own lease lapsed (what it held was left to the others).", func() float64 { return float64(f.Lapses.Load()) })
	}
	if g.journal != nil {
		m.GaugeFunc("socketqueue_journal_open", "Purchases in the journal not yet settled.", func() float64 { return float64(g.journal.Stats().Open) })
		m.CounterFunc("socketqueue_journal_writes_total", "Records the journal wrote (each a group commit, synced unless --journalSync=os).", func() float64 { return float64(g.journal.Stats().Writes) })
		m.CounterFunc("socketqueue_journal_write_seconds_total", "Time the journal's records took to write and sync, added up (over writes_total: the mean, which a purchase waits at least once; journal_wait_seconds is the whole wait).", func() float64 { return g.journal.Stats().WriteTime.Seconds() })
	}
}
