package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Option is one named setting.
type Option struct {
	Name    string
	Group   string
	Help    string
	Default string
	// Switch options take no value on the command line (--v).
	Switch bool
	ptr    any // *string, *int, *bool, *uint64 or *time.Duration
}

// Type names the option's kind of value, for help.
func (o *Option) Type() string {
	switch o.ptr.(type) {
	case *bool:
		return "bool"
	case *int, *uint64:
		return "int"
	case *time.Duration:
		return "seconds"
	}
	return "string"
}

// set parses v into the option's field.
func (o *Option) set(v string) error {
	switch p := o.ptr.(type) {
	case *string:
		*p = v
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("--%s: %q is not true or false", o.Name, v)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("--%s: %q is not a whole number", o.Name, v)
		}
		*p = n
	case *uint64:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--%s: %q is not a whole number", o.Name, v)
		}
		*p = n
	case *time.Duration:
		d, err := parseSeconds(v)
		if err != nil {
			return fmt.Errorf("--%s: %w", o.Name, err)
		}
		*p = d
	}
	return nil
}

// parseSeconds takes seconds as the original did ("35", "0.5") or a Go
// duration ("500ms").
func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("%q: must not be negative", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds or a duration such as 500ms", v)
	}
	return d, nil
}

// EnvName is the environment variable for an option name.
func EnvName(name string) string {
	var b strings.Builder
	b.WriteString("SOCKETQUEUE_")
	for i, r := range name {
		if r >= 'A' && r <= 'Z' && i > 0 && !(name[i-1] >= 'A' && name[i-1] <= 'Z') {
			b.WriteByte('_')
		}
		b.WriteString(strings.ToUpper(string(r)))
	}
	return b.String()
}

// options lists every option bound to c's fields, in help order.
func options(c *Config) []*Option {
	const (
		host    = "Host dialect and framing"
		gateway = "Gateway"
		bank    = "Bank emulator (Socket Bank)"
		tests   = "Test clients"
		ops     = "Logging and operations"
		meta    = "This help"
	)
	return []*Option{
		{Name: "hostConfig", Group: host, Default: "smartVista", ptr: &c.HostConfig,
			Help: "host dialect: smartVista, openWay, or a dialect file (.json)"},
		{Name: "overrides", Group: host, ptr: &c.Overrides,
			Help: "field type overrides, e.g. 55:LLLb:999,63:LLLans:999"},
		{Name: "useHeader", Group: host, Default: "true", ptr: &c.UseHeader,
			Help: "frame host messages with a length header (false: bare messages)"},
		{Name: "headerFormat", Group: host, Default: "length:n:4", ptr: &c.HeaderFormat,
			Help: "header parts name:type:length[:value], or ascii4, bin2, hex4, bcd2, tpdu"},
		{Name: "lengthIncludeHeader", Group: host, Switch: true, Default: "false", ptr: &c.LengthIncludeHeader,
			Help: "the header's length counts the header too"},
		{Name: "maxFrame", Group: host, Default: "8192", ptr: &c.MaxFrame,
			Help: "largest frame accepted, bytes; a larger declared length closes the connection"},

		{Name: "upstreamHost", Group: gateway, ptr: &c.UpstreamHost,
			Help: "bank host to connect to"},
		{Name: "upstreamPort", Group: gateway, Default: "0", ptr: &c.UpstreamPort,
			Help: "bank port to connect to"},
		{Name: "upstream", Group: gateway, ptr: &c.Upstream,
			Help: "bank links to connect to, host:port[,host:port...], each a connection of its own (instead of upstreamHost and upstreamPort)"},
		{Name: "upstreamPolicy", Group: gateway, Default: "roundRobin", ptr: &c.UpstreamPolicy,
			Help: "how requests share the ready bank links: roundRobin (in turn) or failover (the first ready one in the order given)"},
		{Name: "upstreamEchoMisses", Group: gateway, Default: "3", ptr: &c.UpstreamEchoMisses,
			Help: "take a bank link out of rotation after this many of its echoes in a row go unanswered, until one is answered (0: never; needs upstreamEchoInterval)"},
		{Name: "upstreamSignOn", Group: gateway, Switch: true, Default: "false", ptr: &c.UpstreamSignOn,
			Help: "sign each bank link on when it connects (0800, field 70 = 001; the link takes traffic once approved) and off on a clean stop (70 = 002)"},
		{Name: "upstreamSignOnCode", Group: gateway, Default: "001", ptr: &c.UpstreamSignOnCode,
			Help: "field 70 of the sign-on, for hosts that want another network management code"},
		{Name: "upstreamSignOffCode", Group: gateway, Default: "002", ptr: &c.UpstreamSignOffCode,
			Help: "field 70 of the sign-off"},
		{Name: "upstreamListenPort", Group: gateway, Default: "0", ptr: &c.UpstreamListenPort,
			Help: "instead of connecting, wait for the bank to connect on this port"},
		{Name: "upstreamListenLinks", Group: gateway, Default: "1", ptr: &c.UpstreamListenLinks,
			Help: "with upstreamListenPort: how many of the bank's connections to keep, each a link shared by upstreamPolicy (one more replaces the one that has heard nothing longest)"},
		{Name: "upstreamListenHost", Group: gateway, Default: "127.0.0.1", ptr: &c.UpstreamListenHost,
			Help: "address upstreamListenPort binds (0.0.0.0: every interface)"},
		{Name: "upstreamTls", Group: gateway, Switch: true, Default: "false", ptr: &c.UpstreamTLS,
			Help: "the bank link speaks TLS 1.2 or 1.3: dialled, the gateway is the client; with upstreamListenPort, the server (files re-read on SIGHUP)"},
		{Name: "upstreamTlsCa", Group: gateway, ptr: &c.UpstreamTLSCA,
			Help: "PEM CA file the bank's certificate must chain to (dialling; default: the system's roots); with upstreamListenPort, the CA the bank's client certificate must chain to (then required)"},
		{Name: "upstreamTlsCert", Group: gateway, ptr: &c.UpstreamTLSCert,
			Help: "PEM certificate the gateway shows the bank: its client certificate when dialling (mutual TLS), its server certificate with upstreamListenPort"},
		{Name: "upstreamTlsKey", Group: gateway, ptr: &c.UpstreamTLSKey,
			Help: "PEM private key of upstreamTlsCert"},
		{Name: "upstreamTlsServerName", Group: gateway, ptr: &c.UpstreamTLSServerName,
			Help: "name the bank's certificate must carry (default: upstreamHost)"},
		{Name: "upstreamTimeout", Group: gateway, Default: "0", ptr: &c.UpstreamTimeout,
			Help: "close the bank link after this many idle seconds (0: never)"},
		{Name: "upstreamRetry", Group: gateway, Default: "3", ptr: &c.UpstreamRetry,
			Help: "seconds before redialling the bank after a drop or a failed connect"},
		{Name: "upstreamRetryRefused", Group: gateway, Default: "10", ptr: &c.UpstreamRetryRefused,
			Help: "seconds before redialling after the bank refused the connection"},
		{Name: "upstreamEchoInterval", Group: gateway, Default: "0", ptr: &c.UpstreamEchoInterval,
			Help: "send an echo 0800 when the bank link has been quiet this many seconds (0: never)"},
		{Name: "upstreamEchoTid", Group: gateway, Default: "00000000", ptr: &c.UpstreamEchoTID,
			Help: "terminal id (field 41) of the gateway's own echoes"},
		{Name: "listenPort", Group: gateway, Default: "0", ptr: &c.ListenPort,
			Help: "port for binary ISO-8583 POS clients (0: off)"},
		{Name: "listenHost", Group: gateway, Default: "127.0.0.1", ptr: &c.ListenHost,
			Help: "address the POS port binds (0.0.0.0: every interface; the default exposes nothing by accident)"},
		{Name: "listenTlsCert", Group: gateway, ptr: &c.POSTLSCert,
			Help: "PEM certificate (chain) of the POS port: it speaks TLS 1.2 or 1.3 only (re-read on SIGHUP)"},
		{Name: "listenTlsKey", Group: gateway, ptr: &c.POSTLSKey,
			Help: "PEM private key of listenTlsCert"},
		{Name: "listenTlsClientCa", Group: gateway, ptr: &c.POSTLSClientCA,
			Help: "PEM CA file: the POS port asks every client for a certificate it signed (mutual TLS); the subject names the client in the logs"},
		{Name: "listenFraming", Group: gateway, Default: "bare", ptr: &c.ListenFraming,
			Help: "POS framing: bare (one message per connection, then close) or header (persistent, framed as the host)"},
		{Name: "listenHttpPort", Group: gateway, Default: "0", ptr: &c.ListenHTTPPort,
			Help: "port for the JSON and hex HTTP API (0: off)"},
		{Name: "listenHttpHost", Group: gateway, Default: "127.0.0.1", ptr: &c.ListenHTTPHost,
			Help: "address the HTTP API binds (0.0.0.0: every interface; off loopback it needs apiTokens)"},
		{Name: "apiTokens", Group: gateway, ptr: &c.APITokens,
			Help: "file of API credentials, a line each: NAME TOKEN; requests must carry Authorization: Bearer TOKEN, and NAME goes in the logs"},
		{Name: "apiAuth", Group: gateway, Default: "auto", ptr: &c.APIAuth,
			Help: "auto: tokens required when apiTokens is set, and refused to start without them off loopback; off: no credential asked, on any address (said at start)"},
		{Name: "listenHttpTlsCert", Group: gateway, ptr: &c.HTTPTLSCert,
			Help: "PEM certificate (chain) of the HTTP API: it speaks TLS 1.2 or 1.3 only (re-read on SIGHUP)"},
		{Name: "listenHttpTlsKey", Group: gateway, ptr: &c.HTTPTLSKey,
			Help: "PEM private key of listenHttpTlsCert"},
		{Name: "listenHttpTlsClientCa", Group: gateway, ptr: &c.HTTPTLSClientCA,
			Help: "PEM CA file: the HTTP API asks every client for a certificate it signed (mutual TLS); the subject names the client in the logs"},
		{Name: "tlsHandshakeTimeout", Group: gateway, Default: "10", ptr: &c.TLSHandshakeTimeout,
			Help: "seconds a TLS handshake may take; a slower or failed one is closed and counted (refused: tls_handshake)"},
		{Name: "maxConnections", Group: gateway, Default: "20000", ptr: &c.MaxConnections,
			Help: "connections the POS port and the HTTP API each hold at most; more are closed at once and counted (0: no cap)"},
		{Name: "maxConnectionsPerAddr", Group: gateway, Default: "0", ptr: &c.MaxConnectionsPerAddr,
			Help: "connections from one address at most, on each (0: no cap; clients behind one NAT share an address)"},
		{Name: "firstByteTimeout", Group: gateway, Default: "0", ptr: &c.FirstByteTimeout,
			Help: "close a POS connection that has sent nothing this many seconds (0: only clientTimeout)"},
		{Name: "adminPort", Group: gateway, Default: "0", ptr: &c.AdminPort,
			Help: "port for /metrics, /stats, /healthz, /livez, /readyz (0: off); never on the payments API"},
		{Name: "adminHost", Group: gateway, Default: "127.0.0.1", ptr: &c.AdminHost,
			Help: "address the admin port binds"},
		{Name: "adminPprof", Group: gateway, Switch: true, Default: "false", ptr: &c.AdminPprof,
			Help: "also serve Go's profiler at /debug/pprof/ on the admin port (CPU, heap, goroutines; for an operator measuring cost)"},
		{Name: "jsonValues", Group: gateway, Default: "typed", ptr: &c.JSONValues,
			Help: "HTTP API replies: typed, numeric fields as JSON numbers as the original gave them (\"4\":1000, \"39\":0; 7, 11, 12, 22, 41, 42 stay strings); wire, every value the string on the wire (\"4\":\"000000001000\")"},
		{Name: "clientTimeout", Group: gateway, Default: "60", ptr: &c.ClientTimeout,
			Help: "close a POS connection idle this many seconds"},
		{Name: "maxQueue", Group: gateway, Default: "10000", ptr: &c.MaxQueue,
			Help: "requests held at most (waiting and in flight); more are refused at once"},
		{Name: "queueLockTerminal", Group: gateway, Default: "true", ptr: &c.QueueLockTerminal,
			Help: "one request per terminal in flight; later ones wait"},
		{Name: "queueTimeout", Group: gateway, Default: "35", ptr: &c.QueueTimeout,
			Help: "seconds a client request waits for its reply"},
		{Name: "queueShortTimeout", Group: gateway, Default: "5", ptr: &c.QueueShortTimeout,
			Help: "seconds the gateway's own messages (reversals, echoes) wait"},
		{Name: "queueMessageKeyFields", Group: gateway, Default: "11,41", ptr: &c.QueueMessageKeyFields,
			Help: "fields that match a reply to its request"},
		{Name: "loops", Group: gateway, Default: "1", ptr: &c.Loops,
			Help: "event loops for the bank link and POS clients; one keeps each request on one thread"},
		{Name: "noAutoReversal", Group: gateway, Switch: true, Default: "false", ptr: &c.NoAutoReversal,
			Help: "never reverse unanswered purchases"},
		{Name: "reversalRepeatMti", Group: gateway, Default: "0401", ptr: &c.ReversalRepeatMTI,
			Help: "MTI of a reversal sent again after a try that got no answer (0401, the ISO 8583 repeat; 0400 for hosts that want the first MTI again)"},
		{Name: "dataDir", Group: gateway, Default: "data", ptr: &c.DataDir,
			Help: "directory of the purchase journal"},
		{Name: "journal", Group: gateway, Default: "on", ptr: &c.Journal,
			Help: "on: every purchase is on disk before it goes to the bank and is reversed after a crash; off: in memory only"},
		{Name: "journalSync", Group: gateway, Default: "disk", ptr: &c.JournalSync,
			Help: "disk: each group commit is synced to the disk (survives a power cut); os: left to the OS cache (survives a crash or kill -9 of the gateway, not of the machine; faster)"},
		{Name: "journalRecover", Group: gateway, Default: "refuse", ptr: &c.JournalRecover,
			Help: "a damaged journal (not as a crash leaves one): refuse to start, naming the file and offset; skip: start anyway, replaying every intact record and logging what was skipped (after a person looked; the damaged file is kept as .damaged)"},

		{Name: "cluster", Group: gateway, ptr: &c.Cluster,
			Help: "several gateways as one: the terminal lock and the record of purchases at the bank shared on NATS JetStream; embedded (each gateway runs a node, clusterRoutes names the others) or the nats:// URLs of an existing cluster; replaces the local journal"},
		{Name: "clusterInstance", Group: gateway, ptr: &c.ClusterInstance,
			Help: "this gateway's name in the cluster, unique and kept across restarts (what it left open is its own to reverse at start)"},
		{Name: "clusterHost", Group: gateway, Default: "127.0.0.1", ptr: &c.ClusterHost,
			Help: "address the embedded node binds"},
		{Name: "clusterPort", Group: gateway, Default: "4222", ptr: &c.ClusterPort,
			Help: "the embedded node's client port"},
		{Name: "clusterRoutePort", Group: gateway, Default: "6222", ptr: &c.ClusterRoutePort,
			Help: "the embedded node's port for the other nodes"},
		{Name: "clusterRoutes", Group: gateway, ptr: &c.ClusterRoutes,
			Help: "the other embedded nodes' route addresses, host:port[,host:port...]"},
		{Name: "clusterMonitorPort", Group: gateway, Default: "0", ptr: &c.ClusterMonitorPort,
			Help: "the embedded node's NATS monitoring port (/varz, /jsz; 0: off)"},
		{Name: "clusterReplicas", Group: gateway, Default: "3", ptr: &c.ClusterReplicas,
			Help: "copies of the shared state (3 for three nodes: one may be lost)"},
		{Name: "clusterLease", Group: gateway, Default: "20", ptr: &c.ClusterLease,
			Help: "seconds an instance may go unheard before the others reverse what it left at the bank"},
		{Name: "clusterTlsCert", Group: gateway, ptr: &c.ClusterTLSCert,
			Help: "PEM certificate this gateway and its embedded node show the cluster's other members (mutual TLS on the client and route ports, and HTTPS on the monitoring port, which asks no certificate; its names must match the addresses the others dial)"},
		{Name: "clusterTlsKey", Group: gateway, ptr: &c.ClusterTLSKey,
			Help: "PEM private key of clusterTlsCert"},
		{Name: "clusterTlsCa", Group: gateway, ptr: &c.ClusterTLSCA,
			Help: "PEM CA file: only members with a certificate it signed may connect, route or read the shared state"},
		{Name: "clusterStoreKeyFile", Group: gateway, ptr: &c.ClusterStoreKeyFile,
			Help: "file holding a secret of at least 32 characters: the embedded node's storage is encrypted with it (AES-GCM), so its files hold no purchase in the clear; the same secret on every restart, or the node cannot read its store"},

		{Name: "echoServerPort", Group: bank, Default: "0", ptr: &c.EchoServerPort,
			Help: "run the bank emulator on this port"},
		{Name: "bankPorts", Group: bank, ptr: &c.BankPorts,
			Help: "more ports the emulator serves as the same bank (one ledger), comma-separated, for a gateway with several links; POST /bank/mode on bankHttpPort silences, cuts or shuts one"},
		{Name: "echoServerHost", Group: bank, Default: "127.0.0.1", ptr: &c.EchoServerHost,
			Help: "address the emulator binds (0.0.0.0 for partners on other machines)"},
		{Name: "bankConnectHost", Group: bank, Default: "127.0.0.1", ptr: &c.BankConnectHost,
			Help: "with bankConnectPort: the gateway the emulator connects to"},
		{Name: "bankConnectPort", Group: bank, Default: "0", ptr: &c.BankConnectPort,
			Help: "the emulator connects to a gateway's upstreamListenPort here, instead of listening, and reconnects after a drop"},
		{Name: "bankTls", Group: bank, Switch: true, Default: "false", ptr: &c.BankTLS,
			Help: "the emulator speaks TLS: as the server on echoServerPort, as the client with bankConnectPort"},
		{Name: "bankTlsCert", Group: bank, ptr: &c.BankTLSCert,
			Help: "PEM certificate the emulator shows: its server certificate, or with bankConnectPort its client certificate (mutual TLS)"},
		{Name: "bankTlsKey", Group: bank, ptr: &c.BankTLSKey,
			Help: "PEM private key of bankTlsCert"},
		{Name: "bankTlsCa", Group: bank, ptr: &c.BankTLSCA,
			Help: "PEM CA file: on echoServerPort, gateways must show a client certificate it signed (mutual TLS); with bankConnectPort, the gateway's certificate must chain to it"},
		{Name: "bankTlsServerName", Group: bank, ptr: &c.BankTLSServerName,
			Help: "with bankConnectPort: the name the gateway's certificate must carry (default: bankConnectHost)"},
		{Name: "bankHttpHost", Group: bank, Default: "127.0.0.1", ptr: &c.BankHTTPHost,
			Help: "address GET /bank binds"},
		{Name: "bankHttpPort", Group: bank, Default: "0", ptr: &c.BankHTTPPort,
			Help: "serve the emulator's ledger at GET /bank on this port"},
		{Name: "testRealLife", Group: bank, Switch: true, Default: "false", ptr: &c.TestRealLife,
			Help: "emulator closes the link now and then (1 in 10) and answers twice (1 in 5)"},
		{Name: "bankDelay", Group: bank, Default: "0", ptr: &c.BankDelay,
			Help: "seconds every emulator reply is held back"},
		{Name: "bankJitter", Group: bank, Default: "0", ptr: &c.BankJitter,
			Help: "plus a random delay below this many seconds"},
		{Name: "bankMuteEvery", Group: bank, Default: "0", ptr: &c.BankMuteEvery,
			Help: "process but never answer every Nth purchase (0: off)"},
		{Name: "bankCode", Group: bank, ptr: &c.BankCode,
			Help: "answer requests of bankCodeMti with this response code"},
		{Name: "bankCodeMti", Group: bank, Default: "0200", ptr: &c.BankCodeMTI,
			Help: "the MTI bankCode applies to"},
		{Name: "bankCodeCount", Group: bank, Default: "0", ptr: &c.BankCodeCount,
			Help: "only the first N such requests (0: all)"},
		{Name: "bankSeed", Group: bank, Default: "1", ptr: &c.BankSeed,
			Help: "seed of the emulator's random faults; the same seed repeats a run"},
		{Name: "bankHistory", Group: bank, Default: "1048576", ptr: &c.BankHistory,
			Help: "transactions the emulator keeps for reversals"},

		{Name: "testClients", Group: tests, Default: "0", ptr: &c.TestClients,
			Help: "run N test clients (TIDs 1..N)"},
		{Name: "testTargetHost", Group: tests, Default: "localhost", ptr: &c.TestTargetHost,
			Help: "where the test clients connect"},
		{Name: "testTargetPort", Group: tests, Default: "0", ptr: &c.TestTargetPort,
			Help: "port the test clients connect to"},
		{Name: "testTls", Group: tests, Switch: true, Default: "false", ptr: &c.TestTLS,
			Help: "the test clients speak TLS"},
		{Name: "testTlsCa", Group: tests, ptr: &c.TestTLSCA,
			Help: "PEM CA file the target's certificate must chain to (default: the system's roots)"},
		{Name: "testTlsCert", Group: tests, ptr: &c.TestTLSCert,
			Help: "PEM client certificate the test clients show (mutual TLS)"},
		{Name: "testTlsKey", Group: tests, ptr: &c.TestTLSKey,
			Help: "PEM private key of testTlsCert"},
		{Name: "testMessages", Group: tests, Default: "echo", ptr: &c.TestMessages,
			Help: "what they send: echo, purchase (then reverse every 5th), or mix"},
		{Name: "testFraming", Group: tests, Default: "bare", ptr: &c.TestFraming,
			Help: "bare (a gateway's POS port) or header (a bank, framed as the host)"},
		{Name: "testRounds", Group: tests, Default: "0", ptr: &c.TestRounds,
			Help: "requests per client, then exit with a summary (0: until stopped)"},
		{Name: "testPauseMin", Group: tests, Default: "1", ptr: &c.TestPauseMin,
			Help: "shortest random pause, seconds, before a client reconnects"},
		{Name: "testPauseMax", Group: tests, Default: "8", ptr: &c.TestPauseMax,
			Help: "longest random pause, seconds"},

		{Name: "v", Group: ops, Switch: true, Default: "false", ptr: &c.V,
			Help: "log events"},
		{Name: "vv", Group: ops, Switch: true, Default: "false", ptr: &c.VV,
			Help: "log events and a readable (masked) dump of every message"},
		{Name: "silent", Group: ops, Switch: true, Default: "false", ptr: &c.Silent,
			Help: "log nothing to the console"},
		{Name: "dangerous", Group: ops, Switch: true, Default: "false", ptr: &c.Dangerous,
			Help: "log card data unmasked (never in production)"},
		{Name: "logFile", Group: ops, ptr: &c.LogFile,
			Help: "also log to this file (even with --silent); SIGHUP reopens it"},
		{Name: "logFormat", Group: ops, Default: "text", ptr: &c.LogFormat,
			Help: "format of --logFile: text (as the console) or json (one JSON object a line)"},
		{Name: "pidFile", Group: ops, ptr: &c.PidFile,
			Help: "write the process id here while running"},
		{Name: "logstashHost", Group: ops, ptr: &c.LogstashHost,
			Help: "send JSON log lines to LogStash on this host"},
		{Name: "logstashPort", Group: ops, Default: "0", ptr: &c.LogstashPort,
			Help: "LogStash TCP port"},
		{Name: "logstashNode", Group: ops, ptr: &c.LogstashNode,
			Help: "node name sent with each LogStash line"},
		{Name: "statServerPort", Group: ops, Default: "0", ptr: &c.StatServerPort,
			Help: "a connection here gets the statistics as one JSON line"},
		{Name: "statServerHost", Group: ops, Default: "127.0.0.1", ptr: &c.StatServerHost,
			Help: "address the stat server binds"},
		{Name: "statDumpFile", Group: ops, ptr: &c.StatDumpFile,
			Help: "statistics loaded at start and written at exit"},

		{Name: "c", Group: meta, ptr: &c.ConfigFile,
			Help: "read options from this JSON file"},
		{Name: "help", Group: meta, Switch: true, Default: "false", ptr: &c.Help,
			Help: "show this help"},
		{Name: "helpJson", Group: meta, Switch: true, Default: "false", ptr: &c.HelpJSON,
			Help: "show this help as JSON"},
		{Name: "version", Group: meta, Switch: true, Default: "false", ptr: &c.Version,
			Help: "print the version and exit"},
		{Name: "probe", Group: meta, ptr: &c.Probe,
			Help: "GET this URL (e.g. http://127.0.0.1:8081/livez) and exit 0 on 200, 1 otherwise: a container's health check with no curl in the image"},
	}
}

// UnknownEnv lists the SOCKETQUEUE_ variables of environ (as os.Environ
// gives it) that name no option: a misspelt one would otherwise be
// ignored without a word.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, o := range options(&Config{}) {
		known[EnvName(o.Name)] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SOCKETQUEUE_") && !known[name] {
			out = append(out, name)
		}
	}
	return out
}
