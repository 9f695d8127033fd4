package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bi       debug.BuildInfo
		want     string
		revision string
	}{
		{"installed at a tag", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, GoVersion: "go1.26.0"}, "v1.4.0", "unknown"},
		{"built in a clean checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0fd7af8c1b2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f"}, {Key: "vcs.modified", Value: "false"}}},
			"devel+0fd7af8c1b2e", "0fd7af8c1b2e"},
		{"built with changes", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0fd7af8c1b2e3d4f"}, {Key: "vcs.modified", Value: "true"}}},
			"devel+0fd7af8c1b2e-dirty", "0fd7af8c1b2e-dirty"},
		{"no stamp", debug.BuildInfo{}, "devel", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuild(&tc.bi)
			if got.String() != tc.want || got.Revision != tc.revision {
				t.Errorf("%+v: %q revision %q, want %q revision %q", tc.bi.Main, got.String(), got.Revision, tc.want, tc.revision)
			}
		})
	}
}
