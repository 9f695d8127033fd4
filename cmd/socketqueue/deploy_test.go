package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/socketqueue/socketqueue-go/config"
)

// TestPrometheusRules: the alert rules in deploy/prometheus load in
// Prometheus's own checker, and its rule tests (an alert fires when it
// should, with its words) pass.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian's prometheus package; .ci/run and make test-deps install it)")
	}
	for _, args := range [][]string{{"check", "rules", "socketqueue-rules.yml"}, {"test", "rules", "socketqueue-rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDeployNamesRealMetrics: every metric the Grafana dashboard's
// panels, the live page and the alert rules query is one a running
// gateway exposes: a
// gateway with its journal, after a purchase and a refusal, and one in
// a cluster (of one node) for the cluster's figures.
func TestDeployNamesRealMetrics(t *testing.T) {
	bankPort, posPort, admin := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank link up", "--v", "--dataDir="+t.TempDir(), "--echoServerPort="+bankPort, "--upstreamHost=127.0.0.1", "--upstreamPort="+bankPort,
		"--listenPort="+posPort, "--adminPort="+admin)
	if _, err := bare("127.0.0.1:"+posPort, purchaseMsg(t, 1)); err != nil {
		t.Fatal(err)
	}
	bare("127.0.0.1:"+posPort, []byte("GET / HTTP/1.1\r\n\r\n")) // refused: malformed
	clusterAdmin, clusterBank := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	start(t, "bank link up", "--v", "--dataDir="+t.TempDir(), "--cluster=embedded", "--clusterInstance=solo", "--clusterPort="+strconv.Itoa(freePort(t)),
		"--clusterRoutePort=0", "--clusterReplicas=1", "--echoServerPort="+clusterBank, "--upstreamHost=127.0.0.1", "--upstreamPort="+clusterBank,
		"--listenPort="+strconv.Itoa(freePort(t)), "--adminPort="+clusterAdmin)
	// The admin port is read-only: POST /metrics is refused like the rest.
	resp, err := http.Post("http://127.0.0.1:"+admin+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %s, Allow %q; want 405 with Allow: GET, HEAD", resp.Status, resp.Header.Get("Allow"))
	}
	exposed := map[string]bool{}
	for _, port := range []string{admin, clusterAdmin} {
		resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(string(body), -1) {
			exposed[m[1]] = true
			if m[2] == "histogram" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exposed[m[1]+suffix] = true
				}
			}
		}
	}
	name := regexp.MustCompile(`socketqueue_[a-z0-9_]+`)
	check := func(where, expr string) {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: no query", where)
		}
		for _, n := range name.FindAllString(expr, -1) {
			if !exposed[n] {
				t.Errorf("%s queries %s, which the gateway does not expose", where, n)
			}
		}
	}

	raw, err := os.ReadFile("../../deploy/grafana/socketqueue.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard does not parse: %v", err)
	}
	if len(dash.Panels) < 8 {
		t.Fatalf("%d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			check("panel "+strconv.Quote(p.Title), q.Expr)
		}
	}
	page, err := os.ReadFile("../../server/dashboard.html")
	if err != nil {
		t.Fatal(err)
	}
	check("the live page", string(page))
	rules, err := os.ReadFile("../../deploy/prometheus/socketqueue-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range regexp.MustCompile(`(?ms)^\s+expr: (\|\n.*?\n\s+for:|[^\n]+)`).FindAllString(string(rules), -1) {
		check("rule", expr)
	}
}

// TestContainerFiles: docker cannot build here, so the Dockerfile and
// the compose file are checked against what they must agree with: the
// binary they run is the one they copy, the user is not root, data is a
// volume, the ports exposed are make run's, every option in their
// commands is one the binary takes (parsed as the binary parses them),
// and the health check probes the admin port the command opens.
func TestContainerFiles(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	docker := strings.ReplaceAll(string(raw), "\\\n", " ")
	directive := func(name string) []string {
		var out []string
		for _, l := range strings.Split(docker, "\n") {
			if rest, ok := strings.CutPrefix(l, name+" "); ok {
				out = append(out, strings.TrimSpace(rest))
			}
		}
		return out
	}
	jsonArgs := func(what, s string) []string {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			t.Fatalf("%s is not an exec-form JSON array: %v: %s", what, err, s)
		}
		return args
	}
	entry := jsonArgs("ENTRYPOINT", directive("ENTRYPOINT")[0])
	if entry[0] != "/usr/local/bin/socketqueue" || !slices.ContainsFunc(directive("COPY"), func(c string) bool {
		return strings.Contains(c, "/out/socketqueue") && strings.HasSuffix(c, "/usr/local/bin/")
	}) {
		t.Errorf("ENTRYPOINT %v is not the binary COPY puts in /usr/local/bin", entry)
	}
	if users := directive("USER"); len(users) != 1 || strings.HasPrefix(users[0], "0") || strings.HasPrefix(users[0], "root") {
		t.Errorf("USER %v: want a non-root user", users)
	}
	if v := directive("VOLUME"); len(v) != 1 || v[0] != "/var/lib/socketqueue" || !strings.Contains(docker, "SOCKETQUEUE_DATA_DIR=/var/lib/socketqueue") {
		t.Errorf("VOLUME %v: want the data directory, named by SOCKETQUEUE_DATA_DIR", v)
	}
	cmd := jsonArgs("CMD", directive("CMD")[0])
	cfg, err := config.Parse(cmd, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the image's command does not parse: %v", err)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// make run's ports are variables with defaults (make run HTTP_PORT=...).
	runPorts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^[A-Z]+_PORT\s*\?=\s*([0-9]+)$`).FindAllSubmatch(makefile, -1) {
		runPorts[string(m[1])] = true
	}
	if len(runPorts) != 5 || !regexp.MustCompile(`--adminPort=\$\(ADMIN_PORT\)`).Match(makefile) {
		t.Fatalf("make run's port variables: %v", runPorts)
	}
	exposed := strings.Fields(directive("EXPOSE")[0])
	for _, port := range []int{cfg.ListenPort, cfg.ListenHTTPPort, cfg.AdminPort, cfg.StatServerPort, cfg.EchoServerPort} {
		p := strconv.Itoa(port)
		if !slices.Contains(exposed, p) {
			t.Errorf("port %s opened by the command is not in EXPOSE %v", p, exposed)
		}
		if !runPorts[p] {
			t.Errorf("port %s is not make run's", p)
		}
	}
	for _, host := range []string{cfg.ListenHost, cfg.ListenHTTPHost, cfg.AdminHost} {
		if host != "0.0.0.0" {
			t.Errorf("in a container a listener must bind 0.0.0.0, not %s", host)
		}
	}
	health := directive("HEALTHCHECK")
	if len(health) != 1 || !strings.Contains(health[0], `"--probe=http://127.0.0.1:`+strconv.Itoa(cfg.AdminPort)+`/livez"`) {
		t.Errorf("HEALTHCHECK %v: want --probe of /livez on the admin port %d", health, cfg.AdminPort)
	}
	// The probe works against a live gateway, and fails without one.
	admin := strconv.Itoa(freePort(t))
	bank := strconv.Itoa(freePort(t))
	if _, _, code := runBinary(t, "--probe=http://127.0.0.1:"+admin+"/livez"); code != 1 {
		t.Errorf("probe of nothing: exit %d, want 1", code)
	}
	start(t, "bank link up", "--v", "--journal=off", "--echoServerPort="+bank, "--upstreamHost=127.0.0.1", "--upstreamPort="+bank,
		"--listenPort="+strconv.Itoa(freePort(t)), "--adminPort="+admin)
	if out, _, code := runBinary(t, "--probe=http://127.0.0.1:"+admin+"/livez"); code != 0 || out != "alive\n" {
		t.Errorf("probe of a live gateway: exit %d, %q", code, out)
	}

	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?s)command: (\[.*?\])\n`).FindAllSubmatch(compose, -1) {
		args := jsonArgs("a compose command", string(m[1]))
		if _, err := config.Parse(args, func(string) (string, bool) { return "", false }); err != nil {
			t.Errorf("compose command %v: %v", args, err)
		}
	}
}

// TestSystemdUnit: the unit's hardening holds its score: systemd's own
// reckoning (systemd-analyze security, offline) stays under 4, where
// systemd-analyze is installed.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze here")
	}
	// Its exit status also reflects what offline mode cannot check (the
	// binary is not installed here): the score is what counts.
	out, err := exec.Command(analyze, "security", "--offline=true", "../../deploy/socketqueue.service").CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for socketqueue.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Skipf("systemd-analyze security --offline is not supported here: %v %s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: %.1f", score)
	if score >= 4 {
		t.Errorf("exposure %.1f, want under 4:\n%s", score, out)
	}
	if b, err := os.ReadFile("../../deploy/socketqueue.sysusers"); err != nil || !strings.Contains(string(b), "u socketqueue ") {
		t.Errorf("no sysusers.d entry for the unit's user: %v", err)
	}
}

// TestClusterDeployFiles: the three machines' configurations parse as the
// binary parses them, each names itself and routes to the two others,
// and all of them put the members on TLS with their storage encrypted.
func TestClusterDeployFiles(t *testing.T) {
	hosts := map[string]string{}
	for i := 1; i <= 3; i++ {
		name := "gw" + strconv.Itoa(i)
		cfg, err := config.Parse([]string{"-c", "../../deploy/cluster/" + name + ".json"}, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		if cfg.ClusterInstance != name || cfg.Cluster != "embedded" || cfg.ClusterReplicas != 3 {
			t.Errorf("%s.json: instance %q, cluster %q, replicas %d", name, cfg.ClusterInstance, cfg.Cluster, cfg.ClusterReplicas)
		}
		if cfg.ClusterTLSCert == "" || cfg.ClusterTLSCA == "" || cfg.ClusterStoreKeyFile == "" {
			t.Errorf("%s.json: members not on TLS or storage not encrypted", name)
		}
		if strings.Contains(cfg.ClusterRoutes, cfg.ClusterHost) || len(strings.Split(cfg.ClusterRoutes, ",")) != 2 {
			t.Errorf("%s.json: routes %q from %s: want the two others", name, cfg.ClusterRoutes, cfg.ClusterHost)
		}
		hosts[cfg.ClusterHost] = name
	}
	if len(hosts) != 3 {
		t.Errorf("cluster hosts %v: want three", hosts)
	}
}
