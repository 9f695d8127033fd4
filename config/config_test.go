package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

func noEnv(string) (string, bool) { return "", false }

func TestDefaults(t *testing.T) {
	c, err := Parse(nil, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.HostConfig != "smartVista" || !c.UseHeader || c.HeaderFormat != "length:n:4" || c.QueueTimeout != 35*time.Second ||
		c.QueueShortTimeout != 5*time.Second || !c.QueueLockTerminal || c.QueueMessageKeyFields != "11,41" || c.LogLevel() != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestCommandLine(t *testing.T) {
	c, err := Parse([]string{"--upstreamHost=10.0.0.1", "--upstreamPort", "5000", "--listenPort=2014", "--vv",
		"--queueTimeout=0.5", "--queueShortTimeout=250ms", "--queueLockTerminal=false", "--bankSeed=42"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpstreamHost != "10.0.0.1" || c.UpstreamPort != 5000 || c.ListenPort != 2014 || c.LogLevel() != 2 ||
		c.QueueTimeout != 500*time.Millisecond || c.QueueShortTimeout != 250*time.Millisecond || c.QueueLockTerminal || c.BankSeed != 42 {
		t.Fatalf("got %+v", c)
	}
}

// TestPrecedence: command line over environment over file over default.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	os.WriteFile(file, []byte(`{"upstreamHost": "10.0.0.1", "upstreamPort": 5000, "listenPort": 2014, "vv": true, "logFile": "log.txt", "maxQueue": 7}`), 0o600)
	env := map[string]string{"SOCKETQUEUE_LISTEN_PORT": "3000", "SOCKETQUEUE_MAX_QUEUE": "8"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := Parse([]string{"--c=" + file, "--maxQueue=9"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpstreamHost != "10.0.0.1" || c.UpstreamPort != 5000 || !c.VV || c.LogFile != "log.txt" {
		t.Fatalf("file not read: %+v", c)
	}
	if c.ListenPort != 3000 {
		t.Fatalf("environment should beat the file: %d", c.ListenPort)
	}
	if c.MaxQueue != 9 {
		t.Fatalf("command line should beat the environment: %d", c.MaxQueue)
	}
	// -c file, the original's other spelling.
	if c, err = Parse([]string{"-c", file}, noEnv); err != nil || c.ListenPort != 2014 {
		t.Fatalf("-c file: %v %+v", err, c)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"upstreamHots": "x"}`), 0o600)
	notJSON := filepath.Join(dir, "not.json")
	os.WriteFile(notJSON, []byte(`upstreamHost=x`), 0o600)
	syntax := filepath.Join(dir, "syntax.json")
	os.WriteFile(syntax, []byte("{\n  \"listenPort\": 1\n  \"upstreamHost\": \"x\"\n}\n"), 0o600)
	array := filepath.Join(dir, "array.json")
	os.WriteFile(array, []byte(`["listenPort"]`), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--upstreamHots=x"}, "unknown option --upstreamHots"},
		{[]string{"--listenPort=abc"}, "--listenPort"},
		{[]string{"--listenPort=70000"}, "--listenPort: 70000 is not a port"},
		{[]string{"--queueTimeout=-1"}, "--queueTimeout"},
		{[]string{"--upstreamHost=x"}, "--upstreamHost needs --upstreamPort"},
		{[]string{"--testClients=3"}, "--testClients needs --testTargetPort"},
		{[]string{"--listenFraming=tls"}, "--listenFraming"},
		{[]string{"--upstreamPort"}, "--upstreamPort needs a value"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"-c", bad}, `unknown option "upstreamHots"`},
		{[]string{"-c", notJSON}, "not.json:1:1: invalid character 'u' looking for beginning of value"},
		{[]string{"-c", syntax}, "syntax.json:3:3: invalid character '\"' after object key:value pair"},
		{[]string{"-c", array}, "array.json: not a JSON object"},
		{[]string{"-c", filepath.Join(dir, "missing.json")}, "config file"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.args, noEnv)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestEnvName(t *testing.T) {
	for name, want := range map[string]string{
		"upstreamHost": "SOCKETQUEUE_UPSTREAM_HOST", "listenHttpPort": "SOCKETQUEUE_LISTEN_HTTP_PORT",
		"vv": "SOCKETQUEUE_VV", "helpJson": "SOCKETQUEUE_HELP_JSON", "bankCodeMti": "SOCKETQUEUE_BANK_CODE_MTI",
	} {
		if got := EnvName(name); got != want {
			t.Errorf("EnvName(%s) = %s, want %s", name, got, want)
		}
	}
}

// TestHelpListsEveryOption: the original's options all exist, each once,
// and both help forms show them.
func TestHelpListsEveryOption(t *testing.T) {
	original := strings.Fields(`hostConfig overrides upstreamHost upstreamPort upstreamListenPort listenPort
		listenHttpPort upstreamTimeout clientTimeout maxQueue queueLockTerminal queueTimeout queueShortTimeout
		queueMessageKeyFields noAutoReversal logFile pidFile logstashHost logstashPort logstashNode echoServerPort
		testClients testTargetHost testTargetPort testRealLife statServerPort statDumpFile c v vv dangerous
		useHeader headerFormat lengthIncludeHeader silent help helpJson`)
	var text bytes.Buffer
	WriteHelp(&text)
	var js bytes.Buffer
	if err := WriteHelpJSON(&js); err != nil {
		t.Fatal(err)
	}
	var entries []HelpEntry
	if err := json.Unmarshal(js.Bytes(), &entries); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Name]++
		if e.Help == "" || e.Group == "" {
			t.Errorf("%s has no help or group", e.Name)
		}
		if !strings.Contains(text.String(), "--"+e.Name) {
			t.Errorf("--help lacks %s", e.Name)
		}
	}
	for _, name := range original {
		if seen[name] != 1 {
			t.Errorf("option %s appears %d times", name, seen[name])
		}
	}
}

// TestDeploySample: the sample config in deploy/ is valid.
func TestDeploySample(t *testing.T) {
	c, err := Parse([]string{"-c", "../deploy/config.json"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpstreamPort != 5000 || c.ListenPort != 2014 || c.LogFormat != "json" || !c.V {
		t.Fatalf("%+v", c)
	}
}

// TestDeployCluster: the three-machine cluster samples are valid, each
// routed to the other two.
func TestDeployCluster(t *testing.T) {
	for i := 1; i <= 3; i++ {
		c, err := Parse([]string{"-c", "../deploy/cluster/gw" + strconv.Itoa(i) + ".json"}, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if c.Cluster != "embedded" || c.ClusterInstance != "gw"+strconv.Itoa(i) || len(strings.Split(c.ClusterRoutes, ",")) != 2 || len(c.UpstreamAddrs()) != 2 {
			t.Fatalf("gw%d: %+v", i, c)
		}
	}
}

// TestOriginalSpellings: the original's command line and config file
// forms mean what they meant there.
func TestOriginalSpellings(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, strconv.Itoa(len(body))+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(c *Config) bool
	}{
		{"--openWay", []string{"--openWay"}, func(c *Config) bool { return c.HostConfig == "openWay" }},
		{"--smartVista", []string{"--openWay", "--smartVista"}, func(c *Config) bool { return c.HostConfig == "smartVista" }},
		{"bare switch", []string{"--noAutoReversal"}, func(c *Config) bool { return c.NoAutoReversal }},
		{"--no-useHeader", []string{"--no-useHeader"}, func(c *Config) bool { return !c.UseHeader }},
		{"--queueLockTerminal false", []string{"--queueLockTerminal", "false"}, func(c *Config) bool { return !c.QueueLockTerminal }},
		{"bare --useHeader then another option", []string{"--useHeader", "--maxQueue=5"}, func(c *Config) bool { return c.UseHeader && c.MaxQueue == 5 }},
		{"file: c, empties, a list, openWay", []string{"-c", file(`{"c": "", "logFile": "", "maxQueue": 100, "queueMessageKeyFields": [11, 41, 4], "openWay": true, "useHeader": true}`)},
			func(c *Config) bool {
				return c.QueueMessageKeyFields == "11,41,4" && c.HostConfig == "openWay" && c.MaxQueue == 100 && c.LogFile == ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.args, noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%v read as %+v", tc.args, c)
			}
		})
	}
	if _, err := Parse([]string{"--no-upstreamHost"}, noEnv); err == nil {
		t.Fatal("--no- taken for an option that is not a switch")
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"SOCKETQUEUE_LISTEN_PORT=1", "SOCKETQUEUE_LISTENPROT=5", "HOME=/root", "SOCKETQUEUE_QUEUE_TIMEOUT=3", "SOCKETQUEUE_X"})
	if want := []string{"SOCKETQUEUE_LISTENPROT", "SOCKETQUEUE_X"}; !slices.Equal(got, want) {
		t.Errorf("UnknownEnv: %v, want %v", got, want)
	}
}
