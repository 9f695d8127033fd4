package config

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// ErrUsage marks errors in how the program was called.
var ErrUsage = errors.New("usage")

// Parse reads options from args (without the program name), the file
// named by -c, and lookupEnv (os.LookupEnv in production).
func Parse(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	opts := options(c)
	byName := make(map[string]*Option, len(opts))
	for _, o := range opts {
		byName[o.Name] = o
		if err := o.set(o.Default); o.Default != "" && err != nil {
			panic("config: bad default for " + o.Name) // a bug in the table, caught by tests
		}
	}

	cl, err := splitArgs(args, byName)
	if err != nil {
		return nil, err
	}
	file := ""
	for _, kv := range cl {
		if kv[0] == "c" {
			file = kv[1]
		}
	}
	if file == "" && lookupEnv != nil {
		file, _ = lookupEnv(EnvName("c"))
	}
	if file != "" {
		if err := loadFile(file, byName); err != nil {
			return nil, err
		}
	}
	if lookupEnv != nil {
		for _, o := range opts {
			if v, ok := lookupEnv(EnvName(o.Name)); ok {
				if err := o.set(v); err != nil {
					return nil, fmt.Errorf("%w: %s: %w", ErrUsage, EnvName(o.Name), err)
				}
			}
		}
	}
	for _, kv := range cl {
		if err := byName[kv[0]].set(kv[1]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	c.ConfigFile = file
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return c, nil
}

// splitArgs turns --name=value, --name value, --switch and -c file into
// name/value pairs, refusing unknown names and stray words.
func splitArgs(args []string, byName map[string]*Option) ([][2]string, error) {
	var out [][2]string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return nil, fmt.Errorf("%w: unexpected argument %q (options are --name=value)", ErrUsage, a)
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" {
			name = "help"
		}
		if dialect, ok := dialectSwitches[name]; ok && (!hasVal || val == "true") {
			out = append(out, [2]string{"hostConfig", dialect}) // the original's --smartVista, --openWay
			continue
		}
		o, ok := byName[name]
		if off, isNo := strings.CutPrefix(name, "no-"); !ok && isNo && !hasVal {
			// The original's --no-name turns a switch off.
			if o, ok = byName[off]; ok && o.Type() == "bool" {
				out = append(out, [2]string{off, "false"})
				continue
			}
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("%w: unknown option --%s (see --help)", ErrUsage, name)
		}
		if !hasVal {
			switch {
			case o.Type() == "bool":
				// A bare switch is on; "--useHeader false" is off, as the
				// original read it.
				val = "true"
				if i+1 < len(args) && (args[i+1] == "true" || args[i+1] == "false") {
					i++
					val = args[i]
				}
			case i+1 < len(args) && !strings.HasPrefix(args[i+1], "--"):
				i++
				val = args[i]
			default:
				return nil, fmt.Errorf("%w: --%s needs a value", ErrUsage, name)
			}
		}
		out = append(out, [2]string{name, val})
	}
	return out, nil
}

// lineCol is where the byte before offset is, 1-based: a syntax error's
// offset is past the character it stopped at.
func lineCol(data []byte, offset int64) (line, col int) {
	at := int(max(0, min(offset-1, int64(len(data)))))
	before := data[:at]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// dialectSwitches are the original's --smartVista and --openWay, which
// name the dialect as --hostConfig does.
var dialectSwitches = map[string]string{"smartVista": "smartVista", "openWay": "openWay"}

func loadFile(path string, byName map[string]*Option) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", ErrUsage, err)
	}
	var m map[string]json.RawMessage
	if err := stdjson.Unmarshal(data, &m); err != nil {
		// The standard decoder says where: the file is read once.
		if se := (*stdjson.SyntaxError)(nil); errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return fmt.Errorf("%w: config file %s:%d:%d: %s", ErrUsage, path, line, col, se.Error())
		}
		return fmt.Errorf("%w: config file %s: not a JSON object: %w", ErrUsage, path, err)
	}
	for name, raw := range m {
		if name == "c" {
			continue // the original's template has it; a file names no other file
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%w: config file %s: %s: %w", ErrUsage, path, name, err)
		}
		if dialect, ok := dialectSwitches[name]; ok {
			if v == true {
				byName["hostConfig"].set(dialect)
			}
			continue
		}
		o, ok := byName[name]
		if !ok {
			return fmt.Errorf("%w: config file %s: unknown option %q", ErrUsage, path, name)
		}
		var s string
		switch x := v.(type) {
		case nil:
			continue // left empty, as in the original's template
		case string:
			if x == "" && o.Type() != "string" {
				continue
			}
			s = x
		case bool:
			s = strconv.FormatBool(x)
		case float64:
			s = strings.TrimSpace(string(raw))
		case []any:
			// The original took lists (queueMessageKeyFields) as arrays.
			items := make([]string, len(x))
			for i, it := range x {
				switch it := it.(type) {
				case float64, string:
					items[i] = strings.Trim(fmt.Sprint(it), " ")
				default:
					return fmt.Errorf("%w: config file %s: %s: a list of numbers or strings", ErrUsage, path, name)
				}
			}
			s = strings.Join(items, ",")
		default:
			return fmt.Errorf("%w: config file %s: %s: want a string, number, true/false or a list", ErrUsage, path, name)
		}
		if err := o.set(s); err != nil {
			return fmt.Errorf("%w: config file %s: %w", ErrUsage, path, err)
		}
	}
	return nil
}

func (c *Config) validate() error {
	for _, p := range []struct {
		name string
		v    int
	}{
		{"upstreamPort", c.UpstreamPort}, {"upstreamListenPort", c.UpstreamListenPort},
		{"listenPort", c.ListenPort}, {"listenHttpPort", c.ListenHTTPPort},
		{"echoServerPort", c.EchoServerPort}, {"bankHttpPort", c.BankHTTPPort},
		{"testTargetPort", c.TestTargetPort}, {"logstashPort", c.LogstashPort},
		{"statServerPort", c.StatServerPort}, {"adminPort", c.AdminPort},
	} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("--%s: %d is not a port", p.name, p.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"maxQueue", c.MaxQueue}, {"bankMuteEvery", c.BankMuteEvery}, {"bankCodeCount", c.BankCodeCount},
		{"bankHistory", c.BankHistory}, {"testClients", c.TestClients}, {"testRounds", c.TestRounds},
		{"maxFrame", c.MaxFrame}, {"maxConnections", c.MaxConnections}, {"maxConnectionsPerAddr", c.MaxConnectionsPerAddr},
	} {
		if n.v < 0 {
			return fmt.Errorf("--%s: must not be negative", n.name)
		}
	}
	if c.UpstreamHost != "" && c.UpstreamPort == 0 {
		return errors.New("--upstreamHost needs --upstreamPort")
	}
	if c.Upstream != "" && (c.UpstreamHost != "" || c.UpstreamListenPort != 0) {
		return errors.New("--upstream lists the bank links: give it instead of --upstreamHost/--upstreamPort, and not with --upstreamListenPort")
	}
	seen := map[string]bool{}
	for _, a := range c.UpstreamAddrs() {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--upstream: %q is not host:port", a)
		}
		if seen[a] {
			return fmt.Errorf("--upstream: %s given twice", a)
		}
		seen[a] = true
	}
	if c.Upstream != "" && len(c.UpstreamAddrs()) == 0 {
		return errors.New("--upstream: no host:port given")
	}
	if _, err := c.BankPortList(); err != nil {
		return err
	}
	if c.BankPorts != "" && c.EchoServerPort == 0 {
		return errors.New("--bankPorts are more ports beside --echoServerPort: give it too")
	}
	for _, v := range []struct{ name, code string }{{"upstreamSignOnCode", c.UpstreamSignOnCode}, {"upstreamSignOffCode", c.UpstreamSignOffCode}} {
		if len(v.code) != 3 || strings.Trim(v.code, "0123456789") != "" {
			return fmt.Errorf("--%s: %q is not three digits (field 70)", v.name, v.code)
		}
	}
	if c.Cluster != "" && c.ClusterInstance == "" {
		return errors.New("--cluster needs --clusterInstance, this gateway's name in it")
	}
	if c.Cluster != "" && (c.ClusterReplicas < 1 || c.ClusterReplicas > 5) {
		return errors.New("--clusterReplicas: 1 to 5")
	}
	if tls := []string{c.ClusterTLSCert, c.ClusterTLSKey, c.ClusterTLSCA}; slices.Contains(tls, "") && slices.ContainsFunc(tls, func(s string) bool { return s != "" }) {
		return errors.New("--clusterTlsCert, --clusterTlsKey and --clusterTlsCa go together: give all three")
	}
	if (c.ClusterTLSCert != "" || c.ClusterStoreKeyFile != "") && c.Cluster == "" {
		return errors.New("--clusterTls* and --clusterStoreKeyFile need --cluster")
	}
	if c.ClusterStoreKeyFile != "" && c.Cluster != "embedded" {
		return errors.New("--clusterStoreKeyFile encrypts the embedded node's storage: with an existing cluster, set its nodes' jetstream cipher and key there")
	}
	if c.UpstreamListenLinks < 1 {
		return errors.New("--upstreamListenLinks: at least 1")
	}
	if c.UpstreamEchoMisses < 0 {
		return errors.New("--upstreamEchoMisses: must not be negative")
	}
	if c.Gateway() && c.ListenPort == 0 && c.ListenHTTPPort == 0 {
		return errors.New("a gateway needs clients: give --listenPort or --listenHttpPort")
	}
	if !c.Gateway() && (c.ListenPort != 0 || c.ListenHTTPPort != 0) {
		return errors.New("--listenPort and --listenHttpPort need a bank: give --upstreamHost and --upstreamPort, or --upstreamListenPort")
	}
	if c.Loops < 1 {
		return errors.New("--loops: at least 1")
	}
	if c.TestClients > 0 && c.TestTargetPort == 0 {
		return errors.New("--testClients needs --testTargetPort")
	}
	for _, e := range []struct {
		name, value string
		allowed     []string
	}{
		{"listenFraming", c.ListenFraming, []string{"bare", "header"}},
		{"upstreamPolicy", c.UpstreamPolicy, []string{"roundRobin", "failover"}},
		{"journal", c.Journal, []string{"on", "off"}},
		{"journalSync", c.JournalSync, []string{"disk", "os"}},
		{"journalRecover", c.JournalRecover, []string{"refuse", "skip"}},
		{"jsonValues", c.JSONValues, []string{"typed", "wire"}},
		{"apiAuth", c.APIAuth, []string{"auto", "off"}},
		{"reversalRepeatMti", c.ReversalRepeatMTI, []string{"0400", "0401", "0420", "0421"}},
		{"logFormat", c.LogFormat, []string{"text", "json"}},
		{"testFraming", c.TestFraming, []string{"bare", "header"}},
		{"testMessages", c.TestMessages, []string{"echo", "purchase", "mix"}},
	} {
		if !slices.Contains(e.allowed, e.value) {
			return fmt.Errorf("--%s: %q is not one of %s", e.name, e.value, strings.Join(e.allowed, ", "))
		}
	}
	return nil
}

// WriteHelp prints the options grouped by topic with their defaults.
func WriteHelp(w io.Writer) {
	var c Config
	group := ""
	fmt.Fprintln(w, "Usage: socketqueue [--name=value ...] [-c config.json]")
	fmt.Fprintln(w, "Every option can also come from a JSON file (-c) or the environment (SOCKETQUEUE_NAME);")
	fmt.Fprintln(w, "the command line wins over the environment, which wins over the file.")
	for _, o := range options(&c) {
		if o.Group != group {
			group = o.Group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		arg := "=" + o.Type()
		if o.Switch {
			arg = ""
		}
		def := ""
		if o.Default != "" && !(o.Switch && o.Default == "false") && o.Default != "0" {
			def = " (default " + o.Default + ")"
		}
		fmt.Fprintf(w, "  --%-28s %s%s\n", o.Name+arg, o.Help, def)
	}
}

// HelpEntry is one option in --helpJson.
type HelpEntry struct {
	Name    string `json:"name"`
	Group   string `json:"group"`
	Type    string `json:"type"`
	Default string `json:"default"`
	Env     string `json:"env"`
	Help    string `json:"help"`
}

// WriteHelpJSON prints the options as a JSON array.
func WriteHelpJSON(w io.Writer) error {
	var c Config
	var out []HelpEntry
	for _, o := range options(&c) {
		out = append(out, HelpEntry{o.Name, o.Group, o.Type(), o.Default, EnvName(o.Name), o.Help})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
