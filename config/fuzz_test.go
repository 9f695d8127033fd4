package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: no command line, environment value or config file makes
// Parse panic; what it refuses is ErrUsage.
func FuzzParse(f *testing.F) {
	f.Add("--upstreamHost=10.0.0.1\x00--upstreamPort\x005000\x00--vv", "", `{"listenPort": 2014, "queueTimeout": 0.5}`)
	f.Add("--overrides=35:b:40\x00--queueMessageKeyFields=11,41,4", "35:z", `{"useHeader": true, "headerFormat": "length:n:4"}`)
	f.Add("--headerFormat=tpdu:6000000000,length:b:2\x00--hostConfig=openWay", "1e9", `[1,2]`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, args, env, file string) {
		path := filepath.Join(dir, "c.json")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		argv := append(strings.Split(args, "\x00"), "-c", path)
		lookup := func(string) (string, bool) { return env, env != "" }
		if _, err := Parse(argv, lookup); err != nil && !errors.Is(err, ErrUsage) {
			t.Fatalf("error not ErrUsage: %v", err)
		}
	})
}
