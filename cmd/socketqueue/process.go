package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/bank"
	"github.com/socketqueue/socketqueue-go/cluster"
	"github.com/socketqueue/socketqueue-go/config"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/logging"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/selftest"
	"github.com/socketqueue/socketqueue-go/server"
	"github.com/socketqueue/socketqueue-go/stats"
)

// process is what one run of the binary starts, and stops in reverse.
type process struct {
	cfg      *config.Config
	log      zerolog.Logger
	logFile  *logging.File
	logstash *logging.LogStash
	stats    *stats.Stats
	stdout   io.Writer
	dialect  *isocodec.Dialect
	framing  *isocodec.Framing // as the host frames
	gw       *server.Gateway   // nil when not a gateway
	banks    []*bank.Server    // the emulator's ports (none without it)
	taken    atomic.Value      // *server.Gateway, for purchases taken over in the cluster
}

func newProcess(cfg *config.Config, stdout, stderr io.Writer) (*process, error) {
	if cfg.EchoServerPort == 0 && cfg.BankConnectPort == 0 && cfg.TestClients == 0 && !cfg.Gateway() && cfg.ListenPort == 0 && cfg.ListenHTTPPort == 0 {
		return nil, fmt.Errorf("%w: nothing to do: give --upstreamHost/--upstreamPort (or --upstream) with --listenPort or --listenHttpPort (gateway), --echoServerPort or --bankConnectPort (bank emulator) or --testClients (see --help)", config.ErrUsage)
	}
	d, err := isocodec.OpenDialect(cfg.HostConfig, cfg.Overrides)
	if err != nil {
		return nil, fmt.Errorf("%w: --hostConfig/--overrides: %w", config.ErrUsage, err)
	}
	p := &process{cfg: cfg, stdout: stdout, dialect: d, stats: stats.New()}
	lo := logging.Options{Level: cfg.LogLevel(), Silent: cfg.Silent, Out: stderr, FileJSON: cfg.LogFormat == "json"}
	if cfg.LogFile != "" {
		if p.logFile, err = logging.OpenFile(cfg.LogFile); err != nil {
			return nil, fmt.Errorf("--logFile: %w", err)
		}
		lo.File = p.logFile
	}
	if cfg.LogstashHost != "" {
		if cfg.LogstashPort == 0 {
			return nil, fmt.Errorf("%w: --logstashHost needs --logstashPort", config.ErrUsage)
		}
		addr := net.JoinHostPort(cfg.LogstashHost, strconv.Itoa(cfg.LogstashPort))
		p.logstash = logging.NewLogStash(addr, cfg.LogstashNode, func(up bool, err error) {
			// Said once a change; the line reaches LogStash too, once it is back.
			if up {
				p.log.Warn().Str("logstash", addr).Int64("dropped_so_far", p.logstash.Dropped()).Msg("LogStash reachable: the lines kept meanwhile are sent")
				return
			}
			p.log.Error().Err(err).Str("logstash", addr).Msg("LogStash unreachable: lines are kept (up to 4096, the rest dropped and counted in socketqueue_log_dropped_total) until it is back")
		})
		lo.LogStash = p.logstash
	}
	p.log = logging.New(lo)
	for _, name := range config.UnknownEnv(os.Environ()) {
		p.log.Warn().Str("variable", name).Msg("environment variable names no option (see --help for each option's variable); ignored")
	}
	if p.framing, err = hostFraming(cfg, d); err != nil {
		return nil, err
	}
	return p, nil
}

// hostFraming is the framing of the bank link from useHeader,
// headerFormat and lengthIncludeHeader.
func hostFraming(cfg *config.Config, d *isocodec.Dialect) (*isocodec.Framing, error) {
	name := cfg.HeaderFormat
	if !cfg.UseHeader {
		name = "bare"
	}
	f, err := isocodec.FramingByName(name, isocodec.FramingConfig{
		Layout: d.Layout, LengthIncludeHeader: cfg.LengthIncludeHeader, MaxFrame: cfg.MaxFrame})
	if err != nil {
		return nil, fmt.Errorf("%w: --headerFormat: %w", config.ErrUsage, err)
	}
	return f, nil
}

// metrics makes the gateway's collectors, with the log's own figures.
func (p *process) metrics() *metrics.Metrics {
	m := metrics.New()
	if ls := p.logstash; ls != nil {
		m.CounterFunc("socketqueue_log_dropped_total", "Log lines LogStash did not get: past the 4096 kept while it was away.",
			func() float64 { return float64(ls.Dropped()) })
	}
	return m
}

// close releases what newProcess opened.
func (p *process) close() {
	if p.logstash != nil {
		p.logstash.Close()
	}
	if p.logFile != nil {
		p.logFile.Close()
	}
}

func (p *process) run(ctx context.Context, hup <-chan os.Signal) error {
	cfg := p.cfg
	var stops []func(context.Context) error
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](sctx); err != nil {
				p.log.Error().Err(err).Msg("shutdown")
			}
		}
	}()

	serving := false
	if cfg.EchoServerPort != 0 || cfg.BankConnectPort != 0 {
		srvs, err := p.startBank()
		if err != nil {
			return err
		}
		p.banks = srvs
		stops = append(stops, func(ctx context.Context) error {
			var errs []error
			for _, srv := range srvs {
				errs = append(errs, srv.Shutdown(ctx))
			}
			if !cfg.Silent {
				fmt.Fprintln(p.stdout, ledgerSummary(srvs[0].Host().Ledger().Totals()))
			}
			return errors.Join(errs...)
		})
		serving = true
		if cfg.BankHTTPPort != 0 {
			stop, err := p.serveLedger(srvs[0].Host().Ledger())
			if err != nil {
				return err
			}
			stops = append(stops, stop)
		}
	}

	if cfg.PidFile != "" {
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("--pidFile: %w", err)
		}
		stops = append(stops, func(context.Context) error { return os.Remove(cfg.PidFile) })
	}
	if cfg.StatDumpFile != "" {
		if err := p.loadStats(); err != nil {
			return err
		}
		stops = append(stops, func(context.Context) error { return p.saveStats() })
	}
	if cfg.StatServerPort != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.StatServerHost, strconv.Itoa(cfg.StatServerPort)))
		if err != nil {
			return fmt.Errorf("--statServerPort: %w", err)
		}
		go p.stats.ServeTCP(ln)
		stops = append(stops, func(context.Context) error { return ln.Close() })
		p.log.Info().Str("addr", ln.Addr().String()).Msg("stat server listening")
	}

	if cfg.Gateway() {
		var j *journal.Journal
		var rec *cluster.Recorder
		if cfg.Cluster != "" {
			r, stop, err := p.startCluster()
			if err != nil {
				return err
			}
			rec = r
			stops = append(stops, stop)
		} else {
			var err error
			if j, err = p.openJournal(); err != nil {
				return err
			}
			if j != nil {
				stops = append(stops, func(context.Context) error { return j.Close() })
			}
		}
		gw, err := p.startGateway(j, rec)
		if err != nil {
			return err
		}
		if rec != nil {
			rctx, stopLease := context.WithCancel(context.Background())
			p.taken.Store(gw)
			go rec.Run(rctx)
			stops = append(stops, func(context.Context) error { stopLease(); return nil })
		}
		stops = append(stops, gw.Shutdown)
		p.gw = gw
		serving = true
	}

	if cfg.TestClients > 0 {
		tc, err := p.testConfig()
		if err != nil {
			return err
		}
		clientsDone := make(chan selftest.Summary, 1)
		go func() {
			sum, err := selftest.Run(ctx, tc)
			if err != nil {
				p.log.Error().Err(err).Msg("test clients")
			}
			clientsDone <- sum
		}()
		if !serving {
			sum := <-clientsDone
			fmt.Fprintln(p.stdout, sum.String())
			if sum.Failed > 0 {
				return fmt.Errorf("%d of %d test requests failed", sum.Failed, sum.Sent)
			}
			return nil
		}
		stops = append(stops, func(context.Context) error {
			fmt.Fprintln(p.stdout, (<-clientsDone).String())
			return nil
		})
	}
	for {
		select {
		case <-ctx.Done():
			p.log.Info().Msg("stopping")
			return nil
		case sig := <-hup:
			switch sig {
			case syscall.SIGUSR1:
				if p.reopenLog("SIGUSR1") {
					p.log.Info().Msg("SIGUSR1: log file reopened")
				}
			case syscall.SIGUSR2:
				p.stats.Reset()
				p.log.Info().Msg("SIGUSR2: statistics reset")
			default:
				p.hangUp()
			}
		}
	}
}

// reopenLog makes a new log file at the old path (after logrotate moved
// it); sig names the signal in the log. It reports false when it could
// not (said in the log).
func (p *process) reopenLog(sig string) bool {
	if p.logFile != nil {
		if err := p.logFile.Reopen(); err != nil {
			p.log.Error().Err(err).Msg(sig + ": cannot reopen the log file")
			return false
		}
	}
	return true
}

// hangUp is SIGHUP, as the original had it: a new log file at the old
// path, and the figures start again from zero; TLS files are re-read.
func (p *process) hangUp() {
	p.reopenLog("SIGHUP")
	p.stats.Reset()
	var reload []interface{ ReloadTLS() error }
	if p.gw != nil {
		reload = append(reload, p.gw)
	}
	for _, b := range p.banks {
		reload = append(reload, b)
	}
	for _, r := range reload {
		if err := r.ReloadTLS(); err != nil {
			p.log.Error().Err(err).Msg("SIGHUP: TLS files not reloaded; the ones read before stay in use")
		} else {
			p.log.Info().Msg("SIGHUP: TLS files re-read")
		}
	}
	p.log.Info().Msg("SIGHUP: log file reopened, statistics reset")
}

func (p *process) loadStats() error {
	f, err := os.Open(p.cfg.StatDumpFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--statDumpFile: %w", err)
	}
	defer f.Close()
	if err := p.stats.Load(f); err != nil {
		return fmt.Errorf("--statDumpFile %s: %w", p.cfg.StatDumpFile, err)
	}
	return nil
}

func (p *process) saveStats() error {
	tmp := p.cfg.StatDumpFile + ".new"
	if err := os.WriteFile(tmp, append(p.stats.AppendJSON(nil), '\n'), 0o644); err != nil {
		return fmt.Errorf("--statDumpFile: %w", err)
	}
	return os.Rename(tmp, p.cfg.StatDumpFile)
}

// startBank starts the emulator: one host (one ledger) on
// --echoServerPort and each of --bankPorts, or connecting to a gateway.
func (p *process) startBank() ([]*bank.Server, error) {
	cfg := p.cfg
	f := bank.Faults{RealLife: cfg.TestRealLife, Delay: cfg.BankDelay, Jitter: cfg.BankJitter,
		MuteEvery: cfg.BankMuteEvery, Code: cfg.BankCode, CodeCount: cfg.BankCodeCount}
	if cfg.BankCode != "" {
		mti, err := isocodec.ParseMTI(cfg.BankCodeMTI)
		if err != nil {
			return nil, fmt.Errorf("%w: --bankCodeMti: %w", config.ErrUsage, err)
		}
		f.CodeMTI = mti
	}
	host, err := bank.NewHost(bank.HostConfig{Dialect: p.dialect, Ledger: bank.NewLedger(cfg.BankHistory), Faults: f, Seed: cfg.BankSeed})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	bc := bank.Config{
		Addr: net.JoinHostPort(cfg.EchoServerHost, strconv.Itoa(cfg.EchoServerPort)), Host: host, Framing: p.framing,
		Log: p.log, Dangerous: cfg.Dangerous, Retry: cfg.UpstreamRetry, Handshake: cfg.TLSHandshakeTimeout,
	}
	if err := bankTLS(cfg, &bc); err != nil {
		return nil, err
	}
	first, err := bank.Start(bc)
	if err != nil {
		return nil, err
	}
	srvs := []*bank.Server{first}
	more, _ := cfg.BankPortList() // checked with the options
	for _, port := range more {
		bc.Addr = net.JoinHostPort(cfg.EchoServerHost, strconv.Itoa(port))
		srv, err := bank.Start(bc)
		if err != nil {
			for _, s := range srvs {
				_ = s.Shutdown(context.Background())
			}
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	return srvs, nil
}

// bankTLS sets the emulator's TLS (--bankTls...) and its dialling
// (--bankConnectPort).
func bankTLS(cfg *config.Config, bc *bank.Config) error {
	files := []string{cfg.BankTLSCA, cfg.BankTLSCert, cfg.BankTLSKey, cfg.BankTLSServerName}
	switch {
	case cfg.BankConnectPort != 0 && cfg.EchoServerPort != 0:
		return fmt.Errorf("%w: the emulator listens (--echoServerPort) or connects (--bankConnectPort), not both", config.ErrUsage)
	case !cfg.BankTLS && strings.Join(files, "") != "":
		return fmt.Errorf("%w: the --bankTls... files need --bankTls", config.ErrUsage)
	case (cfg.BankTLSCert == "") != (cfg.BankTLSKey == ""):
		return fmt.Errorf("%w: --bankTlsCert and --bankTlsKey go together", config.ErrUsage)
	}
	if cfg.BankConnectPort != 0 {
		bc.Connect = net.JoinHostPort(cfg.BankConnectHost, strconv.Itoa(cfg.BankConnectPort))
		if !cfg.BankTLS {
			return nil
		}
		c, err := tlsconf.NewClient(tlsconf.ClientFiles{CA: cfg.BankTLSCA, Cert: cfg.BankTLSCert, Key: cfg.BankTLSKey, ServerName: cfg.BankTLSServerName})
		if err != nil {
			return fmt.Errorf("%w: --bankTls: %w", config.ErrUsage, err)
		}
		bc.ConnectTLS = c
		return nil
	}
	if !cfg.BankTLS {
		return nil
	}
	switch {
	case cfg.BankTLSCert == "":
		return fmt.Errorf("%w: --bankTls on --echoServerPort serves TLS: give --bankTlsCert and --bankTlsKey", config.ErrUsage)
	case cfg.BankTLSServerName != "":
		return fmt.Errorf("%w: --bankTlsServerName is for --bankConnectPort", config.ErrUsage)
	}
	s, err := tlsconf.NewServer(tlsconf.ServerFiles{Cert: cfg.BankTLSCert, Key: cfg.BankTLSKey, ClientCA: cfg.BankTLSCA})
	if err != nil {
		return fmt.Errorf("%w: --bankTls: %w", config.ErrUsage, err)
	}
	bc.TLS = s
	return nil
}

// startGateway starts the gateway; its link dials (or waits for) the
// bank in the background.
func (p *process) startGateway(j *journal.Journal, rec *cluster.Recorder) (*server.Gateway, error) {
	cfg := p.cfg
	keys, err := p.dialect.ParseKeyFields(cfg.QueueMessageKeyFields)
	if err != nil {
		return nil, fmt.Errorf("%w: --queueMessageKeyFields: %w", config.ErrUsage, err)
	}
	pos := p.framing
	if cfg.ListenFraming == "bare" {
		if pos, err = isocodec.FramingByName("bare", isocodec.FramingConfig{Layout: p.dialect.Layout, MaxFrame: cfg.MaxFrame}); err != nil {
			return nil, err
		}
	}
	sc := server.Config{
		Dialect: p.dialect, HostFraming: p.framing, POSFraming: pos, KeyFields: keys,
		RetryRefused: cfg.UpstreamRetryRefused, RetryOther: cfg.UpstreamRetry,
		UpstreamIdle: cfg.UpstreamTimeout, EchoInterval: cfg.UpstreamEchoInterval, EchoTID: cfg.UpstreamEchoTID,
		ClientIdle: cfg.ClientTimeout, MaxQueue: cfg.MaxQueue, LockTerminal: cfg.QueueLockTerminal,
		QueueTimeout: cfg.QueueTimeout, ShortTimeout: cfg.QueueShortTimeout,
		Log: p.log, Dangerous: cfg.Dangerous, Loops: cfg.Loops,
		Journal: j, Cluster: rec, NoAutoReversal: cfg.NoAutoReversal, Stats: p.stats, Metrics: p.metrics(),
		JSONWire:     cfg.JSONValues == "wire",
		TLSHandshake: cfg.TLSHandshakeTimeout, SignOn: cfg.UpstreamSignOn,
		SignOnCode: cfg.UpstreamSignOnCode, SignOffCode: cfg.UpstreamSignOffCode,
		MaxConns: cfg.MaxConnections, MaxConnsPerAddr: cfg.MaxConnectionsPerAddr, FirstByte: cfg.FirstByteTimeout,
	}
	if sc.ReversalRepeatMTI, err = isocodec.ParseMTI(cfg.ReversalRepeatMTI); err != nil {
		return nil, fmt.Errorf("%w: --reversalRepeatMti: %w", config.ErrUsage, err)
	}
	if addrs := cfg.UpstreamAddrs(); len(addrs) > 0 {
		sc.UpstreamAddrs, sc.LinkPolicy, sc.EchoMisses = addrs, cfg.UpstreamPolicy, cfg.UpstreamEchoMisses
	} else {
		sc.EchoMisses, sc.LinkPolicy, sc.UpstreamListenLinks = cfg.UpstreamEchoMisses, cfg.UpstreamPolicy, cfg.UpstreamListenLinks
		sc.UpstreamListen = net.JoinHostPort(cfg.UpstreamListenHost, strconv.Itoa(cfg.UpstreamListenPort))
	}
	if cfg.ListenPort != 0 {
		sc.POSAddr = net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.ListenPort))
		switch {
		case cfg.POSTLSCert != "" && cfg.POSTLSKey != "":
			sc.POSTLS = &tlsconf.ServerFiles{Cert: cfg.POSTLSCert, Key: cfg.POSTLSKey, ClientCA: cfg.POSTLSClientCA}
		case cfg.POSTLSCert != "" || cfg.POSTLSKey != "" || cfg.POSTLSClientCA != "":
			return nil, fmt.Errorf("%w: --listenTlsCert and --listenTlsKey go together (and --listenTlsClientCa needs them)", config.ErrUsage)
		}
	}
	if sc.UpstreamTLS, err = upstreamTLS(cfg); err != nil {
		return nil, err
	}
	if cfg.ListenHTTPPort != 0 {
		sc.HTTPAddr = net.JoinHostPort(cfg.ListenHTTPHost, strconv.Itoa(cfg.ListenHTTPPort))
		switch {
		case cfg.HTTPTLSCert != "" && cfg.HTTPTLSKey != "":
			sc.HTTPTLS = &tlsconf.ServerFiles{Cert: cfg.HTTPTLSCert, Key: cfg.HTTPTLSKey, ClientCA: cfg.HTTPTLSClientCA}
		case cfg.HTTPTLSCert != "" || cfg.HTTPTLSKey != "" || cfg.HTTPTLSClientCA != "":
			return nil, fmt.Errorf("%w: --listenHttpTlsCert and --listenHttpTlsKey go together (and --listenHttpTlsClientCa needs them)", config.ErrUsage)
		}
		if err := p.apiAuth(&sc); err != nil {
			return nil, err
		}
	}
	if cfg.AdminPort != 0 {
		sc.AdminAddr = net.JoinHostPort(cfg.AdminHost, strconv.Itoa(cfg.AdminPort))
		sc.AdminPprof = cfg.AdminPprof
	} else if cfg.AdminPprof {
		return nil, fmt.Errorf("%w: --adminPprof is served on the admin port: set --adminPort", config.ErrUsage)
	}
	gw, err := server.New(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	if err := gw.Start(); err != nil {
		return nil, err
	}
	return gw, nil
}

// upstreamTLS is the bank link's TLS, nil without --upstreamTls.
func upstreamTLS(cfg *config.Config) (*tlsconf.ClientFiles, error) {
	f := &tlsconf.ClientFiles{CA: cfg.UpstreamTLSCA, Cert: cfg.UpstreamTLSCert, Key: cfg.UpstreamTLSKey, ServerName: cfg.UpstreamTLSServerName}
	switch {
	case !cfg.UpstreamTLS && *f != (tlsconf.ClientFiles{}):
		return nil, fmt.Errorf("%w: the --upstreamTls... files need --upstreamTls", config.ErrUsage)
	case !cfg.UpstreamTLS:
		return nil, nil
	case (f.Cert == "") != (f.Key == ""):
		return nil, fmt.Errorf("%w: --upstreamTlsCert and --upstreamTlsKey go together", config.ErrUsage)
	case cfg.UpstreamHost == "" && f.Cert == "":
		return nil, fmt.Errorf("%w: --upstreamTls with --upstreamListenPort serves TLS to the bank: give --upstreamTlsCert and --upstreamTlsKey", config.ErrUsage)
	case cfg.UpstreamHost == "" && f.ServerName != "":
		return nil, fmt.Errorf("%w: --upstreamTlsServerName is for dialling the bank, not --upstreamListenPort", config.ErrUsage)
	}
	return f, nil
}

// apiAuth sets the HTTP API's credentials: the tokens of --apiTokens,
// asked of every payment request. Without them the API is open, which
// is refused off loopback unless --apiAuth=off says so (and is logged).
func (p *process) apiAuth(sc *server.Config) error {
	cfg := p.cfg
	if cfg.APITokens != "" && cfg.APIAuth != "off" {
		tokens, err := server.LoadAPITokens(cfg.APITokens)
		if err != nil {
			return fmt.Errorf("%w: --apiTokens: %w", config.ErrUsage, err)
		}
		sc.APITokens = tokens
		return nil
	}
	if isLoopback(cfg.ListenHTTPHost) || sc.HTTPTLS != nil && sc.HTTPTLS.ClientCA != "" {
		return nil // loopback, or every client shows a certificate
	}
	if cfg.APIAuth != "off" {
		return fmt.Errorf("%w: --listenHttpHost=%s is not loopback: give --apiTokens=FILE so that only your back ends can send payments, or --apiAuth=off to leave the API open", config.ErrUsage, cfg.ListenHTTPHost)
	}
	p.log.Warn().Str("addr", sc.HTTPAddr).Msg("HTTP API open to anyone who reaches it (--apiAuth=off): payments are sent without a credential")
	return nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startCluster starts the embedded NATS node (--cluster=embedded) or
// connects to the cluster's URLs, opens the shared store, waiting for the
// cluster to form (the other nodes may start later), and returns the
// recorder of purchases; stop closes them.
func (p *process) startCluster() (*cluster.Recorder, func(context.Context) error, error) {
	cfg := p.cfg
	var node *cluster.Node
	urls := strings.Split(cfg.Cluster, ",")
	tlsFiles := cluster.TLSFiles{Cert: cfg.ClusterTLSCert, Key: cfg.ClusterTLSKey, CA: cfg.ClusterTLSCA}
	if cfg.Cluster == "embedded" {
		var routes []string
		for r := range strings.SplitSeq(cfg.ClusterRoutes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				routes = append(routes, r)
			}
		}
		var key string
		if cfg.ClusterStoreKeyFile != "" {
			var err error
			if key, err = cluster.ReadStoreKey(cfg.ClusterStoreKeyFile); err != nil {
				return nil, nil, fmt.Errorf("--clusterStoreKeyFile: %w", err)
			}
		}
		var err error
		node, err = cluster.StartNode(cluster.NodeConfig{Name: cfg.ClusterInstance, Host: cfg.ClusterHost, Port: cfg.ClusterPort,
			ClusterPort: cfg.ClusterRoutePort, MonitorPort: cfg.ClusterMonitorPort, Routes: routes,
			Dir: filepath.Join(cfg.DataDir, "nats"), TLS: tlsFiles, StoreKey: key, Log: p.log})
		if err != nil {
			return nil, nil, err
		}
		urls = []string{node.ClientURL()}
		p.log.Info().Str("instance", cfg.ClusterInstance).Str("clients", node.ClientURL()).Int("routes", cfg.ClusterRoutePort).
			Strs("peers", routes).Bool("tls", tlsFiles.On()).Bool("encrypted", key != "").Msg("cluster node started")
	}
	var store *cluster.Store
	deadline := time.Now().Add(60 * time.Second)
	var said time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := cluster.Open(ctx, cluster.StoreConfig{URLs: urls, Instance: cfg.ClusterInstance, Replicas: cfg.ClusterReplicas, Lease: cfg.ClusterLease, TLS: tlsFiles, BankWait: cfg.QueueTimeout})
		cancel()
		if err == nil {
			store = s
			break
		}
		if errors.Is(err, cluster.ErrRefused) || time.Now().After(deadline) {
			if node != nil {
				node.Shutdown()
			}
			if errors.Is(err, cluster.ErrRefused) {
				return nil, nil, fmt.Errorf("%w (check --clusterTlsCert, --clusterTlsKey, --clusterTlsCa, or the user and password in --cluster)", err)
			}
			return nil, nil, fmt.Errorf("cluster: not formed within 60 s: %w", err)
		}
		if time.Since(said) >= 5*time.Second {
			p.log.Info().Err(err).Msg("cluster: waiting for the other nodes")
			said = time.Now()
		}
		time.Sleep(100 * time.Millisecond) // some refusals are immediate
	}
	d := p.dialect
	rec := cluster.NewRecorder(cluster.RecorderConfig{Store: store, Wait: cfg.QueueTimeout, Log: p.log,
		TID: func(msg []byte) string {
			var s isocodec.Scan
			var buf [32]byte
			if d.Layout.Scan(msg, &s) != nil || !s.Has(41) {
				return "none"
			}
			return cluster.KeyOf(d.Layout.AppendText(buf[:0], &s, msg, 41))
		},
		Taken: func(id uint64, msg []byte) {
			if gw, ok := p.taken.Load().(*server.Gateway); ok {
				gw.ReverseTakenOver(id, msg)
			}
		}})
	p.log.Info().Str("instance", cfg.ClusterInstance).Int("replicas", cfg.ClusterReplicas).Stringer("lease", cfg.ClusterLease).Msg("cluster joined")
	return rec, func(context.Context) error {
		if err := rec.Close(10 * time.Second); err != nil {
			p.log.Error().Err(err).Msg("cluster: some settles may not be written; the next start reverses what they left")
		}
		store.Close()
		if node != nil {
			node.Shutdown()
		}
		return nil
	}, nil
}

// openJournal opens the purchase journal in --dataDir, unless
// --journal=off.
func (p *process) openJournal() (*journal.Journal, error) {
	if p.cfg.Journal == "off" {
		p.log.Warn().Msg("journal off: purchases in flight are not reversed after a crash")
		return nil, nil
	}
	if err := os.MkdirAll(p.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("--dataDir: %w", err)
	}
	// The journal of earlier builds; purchases open in it would never be
	// reversed, so say so rather than start without them.
	if old := filepath.Join(p.cfg.DataDir, "journal.db"); fileExists(old) {
		return nil, fmt.Errorf("--dataDir: %s is the journal of an earlier version, whose open purchases this one cannot read: "+
			"run that version until it stops cleanly (SIGTERM settles or keeps nothing open), then remove the file", old)
	}
	j, err := journal.Open(filepath.Join(p.cfg.DataDir, "journal"),
		journal.Options{NoSync: p.cfg.JournalSync == "os", SkipDamage: p.cfg.JournalRecover == "skip"})
	if errors.Is(err, journal.ErrDamaged) {
		return nil, fmt.Errorf("--dataDir: %w. It may hold purchases to reverse, so the gateway does not start without them: "+
			"keep a copy of the directory, look at the file, then start with --journalRecover=skip to replay every intact record", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--dataDir: %w", err)
	}
	for _, d := range j.Skipped() {
		p.log.Error().Str("file", d.File).Int64("offset", d.Offset).Int64("resumes", d.Resumes).Str("damage", d.What).
			Msg("journal damage skipped (--journalRecover=skip): records in it are lost; the damaged file is kept as .damaged")
	}
	return j, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (p *process) serveLedger(l *bank.Ledger) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(p.cfg.BankHTTPHost, strconv.Itoa(p.cfg.BankHTTPPort)))
	if err != nil {
		return nil, fmt.Errorf("--bankHttpPort: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", bank.Handler(l, p.cfg.Dangerous))
	mux.HandleFunc("POST /bank/mode", p.setBankMode)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error().Err(err).Msg("bank ledger HTTP server")
		}
	}()
	p.log.Info().Str("addr", ln.Addr().String()).Msg("bank ledger at GET /bank")
	return srv.Shutdown, nil
}

// setBankMode serves POST /bank/mode?port=N&mode=serve|mute|refuse|drop:
// how the emulator's port N treats its connections.
// &signOn=decline|accept refuses or approves the sign-ons that come to
// port N.
func (p *process) setBankMode(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var set []func(*bank.Server)
	if v := q.Get("mode"); v != "" {
		mode, drop, err := bank.ParseMode(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		set = append(set, func(b *bank.Server) { b.SetMode(mode, drop) })
	}
	switch v := q.Get("signOn"); v {
	case "":
	case "decline", "accept":
		set = append(set, func(b *bank.Server) { b.DeclineSignOns(v == "decline") })
	default:
		http.Error(w, "signOn: want decline or accept", http.StatusBadRequest)
		return
	}
	if len(set) == 0 {
		http.Error(w, "give mode=serve|mute|refuse|drop and/or signOn=decline|accept", http.StatusBadRequest)
		return
	}
	port, _ := strconv.Atoi(q.Get("port"))
	for _, b := range p.banks {
		if a := b.Addr(); a != nil && a.Port == port {
			for _, f := range set {
				f(b)
			}
			fmt.Fprintf(w, "port %d: %s\n", port, b.Mode())
			return
		}
	}
	http.Error(w, fmt.Sprintf("no emulator port %q", r.URL.Query().Get("port")), http.StatusNotFound)
}

func (p *process) testConfig() (selftest.Config, error) {
	cfg := p.cfg
	fr := p.framing
	if cfg.TestFraming == "bare" {
		fr, _ = isocodec.FramingByName("bare", isocodec.FramingConfig{Layout: p.dialect.Layout, MaxFrame: cfg.MaxFrame})
	}
	var conf *tls.Config
	f := tlsconf.ClientFiles{CA: cfg.TestTLSCA, Cert: cfg.TestTLSCert, Key: cfg.TestTLSKey}
	switch {
	case cfg.TestTLS:
		c, err := tlsconf.NewClient(f)
		if err != nil {
			return selftest.Config{}, fmt.Errorf("%w: test clients: %w", config.ErrUsage, err)
		}
		conf = c.For(cfg.TestTargetHost)
	case f != (tlsconf.ClientFiles{}):
		return selftest.Config{}, fmt.Errorf("%w: the --testTls... files need --testTls", config.ErrUsage)
	}
	return selftest.Config{
		TLS:      conf,
		Addr:     net.JoinHostPort(cfg.TestTargetHost, strconv.Itoa(cfg.TestTargetPort)),
		Clients:  cfg.TestClients,
		Rounds:   cfg.TestRounds,
		Messages: cfg.TestMessages,
		Dialect:  p.dialect,
		Framing:  fr,
		PauseMin: cfg.TestPauseMin,
		PauseMax: cfg.TestPauseMax,
		Timeout:  cfg.QueueTimeout + 5*time.Second,
		Seed:     cfg.BankSeed,
		Log:      p.log,
	}, nil
}

func ledgerSummary(t bank.Totals) string {
	return fmt.Sprintf("bank ledger: %d echoes, %d sign-ons (%d declined), %d sign-offs; %d purchases: %d approved (%s), %d declined; %d refunds (%s); "+
		"%d reversals (%s), %d repeated, %d not found; %d muted, %d forced codes, %d invalid, %d unsupported",
		t.Echoes, t.SignOns, t.SignOnsDeclined, t.SignOffs, t.Purchases, t.Approved, money(t.ApprovedAmount), t.Declined, t.Refunds, money(t.RefundAmount),
		t.Reversals, money(t.ReversedAmount), t.RepeatedReversals, t.ReversalsNotFound, t.Muted, t.Forced, t.Invalid, t.Unsupported)
}

// money shows minor units as units.cents.
func money(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	c := strconv.FormatInt(v%100, 10)
	return sign + strconv.FormatInt(v/100, 10) + "." + "00"[len(c):] + c
}
