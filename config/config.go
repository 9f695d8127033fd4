package config

import (
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
func (c *Config) Gateway() bool { return c.UpstreamHost != "" || c.UpstreamListenPort != 0 }
