package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is every option's value.
type Config struct {
	// Host dialect and framing
	HostConfig          string
	Overrides           string
	UseHeader           bool
	HeaderFormat        string
	LengthIncludeHeader bool
	MaxFrame            int

	// Gateway
	UpstreamHost          string
	UpstreamPort          int
	Upstream              string
	UpstreamPolicy        string
	UpstreamEchoMisses    int
	UpstreamSignOn        bool
	UpstreamSignOnCode    string
	UpstreamSignOffCode   string
	UpstreamListenLinks   int
	Cluster               string
	ClusterInstance       string
	ClusterHost           string
	ClusterPort           int
	ClusterRoutePort      int
	ClusterRoutes         string
	ClusterMonitorPort    int
	ClusterReplicas       int
	ClusterLease          time.Duration
	ClusterTLSCert        string
	ClusterTLSKey         string
	ClusterTLSCA          string
	ClusterStoreKeyFile   string
	UpstreamListenPort    int
	UpstreamTimeout       time.Duration
	UpstreamRetry         time.Duration
	UpstreamRetryRefused  time.Duration
	UpstreamEchoInterval  time.Duration
	UpstreamEchoTID       string
	Loops                 int
	ListenPort            int
	ListenHost            string
	ListenHTTPHost        string
	UpstreamListenHost    string
	AdminHost             string
	MaxConnections        int
	MaxConnectionsPerAddr int
	FirstByteTimeout      time.Duration
	StatServerHost        string
	EchoServerHost        string
	BankHTTPHost          string
	AdminPort             int
	AdminPprof            bool
	APITokens             string
	APIAuth               string
	POSTLSCert            string
	POSTLSKey             string
	POSTLSClientCA        string
	UpstreamTLS           bool
	UpstreamTLSCA         string
	UpstreamTLSCert       string
	UpstreamTLSKey        string
	UpstreamTLSServerName string
	BankTLS               bool
	BankTLSCA             string
	BankTLSCert           string
	BankTLSKey            string
	BankTLSServerName     string
	BankConnectHost       string
	BankConnectPort       int
	TestTLS               bool
	TestTLSCA             string
	TestTLSCert           string
	TestTLSKey            string
	HTTPTLSCert           string
	HTTPTLSKey            string
	HTTPTLSClientCA       string
	TLSHandshakeTimeout   time.Duration
	ListenFraming         string
	ListenHTTPPort        int
	ClientTimeout         time.Duration
	MaxQueue              int
	QueueLockTerminal     bool
	QueueTimeout          time.Duration
	QueueShortTimeout     time.Duration
	QueueMessageKeyFields string
	NoAutoReversal        bool
	ReversalRepeatMTI     string
	JSONValues            string
	DataDir               string
	Journal               string
	JournalSync           string
	JournalRecover        string

	// Bank emulator
	EchoServerPort int
	BankPorts      string
	BankHTTPPort   int
	BankDelay      time.Duration
	BankJitter     time.Duration
	BankMuteEvery  int
	BankCode       string
	BankCodeMTI    string
	BankCodeCount  int
	BankSeed       uint64
	BankHistory    int
	TestRealLife   bool

	// Test clients
	TestClients    int
	TestTargetHost string
	TestTargetPort int
	TestMessages   string
	TestFraming    string
	TestRounds     int
	TestPauseMin   time.Duration
	TestPauseMax   time.Duration

	// Logging and operations
	V              bool
	VV             bool
	Silent         bool
	Dangerous      bool
	LogFile        string
	LogFormat      string
	PidFile        string
	LogstashHost   string
	LogstashPort   int
	LogstashNode   string
	StatServerPort int
	StatDumpFile   string

	// Meta
	ConfigFile string
	Help       bool
	HelpJSON   bool
	Version    bool
	Probe      string
}

// LogLevel is 0 quiet, 1 for v, 2 for vv.
func (c *Config) LogLevel() int {
	switch {
	case c.VV:
		return 2
	case c.V:
		return 1
	}
	return 0
}

// Gateway reports whether the options ask for a gateway (an upstream).
func (c *Config) Gateway() bool {
	return c.UpstreamHost != "" || c.Upstream != "" || c.UpstreamListenPort != 0
}

// UpstreamAddrs are the bank links to dial: --upstream's list, or
// --upstreamHost and --upstreamPort as a list of one.
func (c *Config) UpstreamAddrs() []string {
	if c.UpstreamHost != "" {
		return []string{net.JoinHostPort(c.UpstreamHost, strconv.Itoa(c.UpstreamPort))}
	}
	var out []string
	for a := range strings.SplitSeq(c.Upstream, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// BankPortList is --bankPorts read.
func (c *Config) BankPortList() ([]int, error) {
	var out []int
	for p := range strings.SplitSeq(c.BankPorts, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--bankPorts: %q is not a port", p)
		}
		out = append(out, n)
	}
	return out, nil
}
