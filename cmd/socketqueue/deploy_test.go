package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
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
// panels and the alert rules query is one a running gateway exposes: a
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
	rules, err := os.ReadFile("../../deploy/prometheus/socketqueue-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range regexp.MustCompile(`(?ms)^\s+expr: (\|\n.*?\n\s+for:|[^\n]+)`).FindAllString(string(rules), -1) {
		check("rule", expr)
	}
}
