package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// The deploy files that are not Kubernetes manifests: the image, compose, and the
// contract table the static checks in deploy/check.sh compare against.

// image is what deploy/docker/Dockerfile's final stage sets: its environment and the
// arguments its ENTRYPOINT passes before the container's own.
type image struct {
	env        map[string]string
	entrypoint []string
}

func readImage(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile("../../deploy/docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	img := image{env: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "FROM "):
			img = image{env: map[string]string{}} // a new stage starts afresh
		case strings.HasPrefix(line, "ENV "):
			for _, kv := range strings.Fields(line[4:]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %q is not NAME=value", kv)
				}
				img.env[k] = v
			}
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(line[len("ENTRYPOINT "):]), &img.entrypoint); err != nil {
				t.Fatalf("Dockerfile: ENTRYPOINT is not exec form: %v", err)
			}
		}
	}
	if len(img.entrypoint) == 0 || img.entrypoint[0] != "/caching-proxy" {
		t.Fatalf("Dockerfile: ENTRYPOINT %q does not run /caching-proxy", img.entrypoint)
	}
	return img
}

// docs/contract.md's table of start flags is what the deploy files are checked
// against (deploy/check.sh); it must list exactly the flags start has.
func TestContractListsEveryStartFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| --([a-z0-9-]+) \| (CACHING_PROXY_[A-Z0-9_]+) \|`).FindAllStringSubmatch(string(b), -1) {
		listed[m[1]] = true
		if want := envPrefix + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_")); m[2] != want {
			t.Errorf("contract.md: --%s is listed with %s, want %s", m[1], m[2], want)
		}
	}
	newStartCmd(nil).Flags().VisitAll(func(f *pflag.Flag) {
		if !listed[f.Name] {
			t.Errorf("start --%s is missing from docs/contract.md", f.Name)
		}
		delete(listed, f.Name)
	})
	for name := range listed {
		t.Errorf("docs/contract.md lists --%s, which start does not have", name)
	}
}

// deploy/compose.yaml's proxies: their environment (with compose's ${VAR:-default}
// and ${VAR:?message} resolved) on top of the image's makes a config start accepts.
func TestComposeProxySettings(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build *struct {
				Dockerfile string `json:"dockerfile"`
			} `json:"build"`
			Environment map[string]string `json:"environment"`
			Command     []string          `json:"command"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	img := readImage(t)
	interp := regexp.MustCompile(`\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}`)
	proxies := 0
	for name, s := range compose.Services {
		if s.Build == nil || s.Build.Dockerfile != "deploy/docker/Dockerfile" {
			continue
		}
		proxies++
		unsetProxyEnv(t)
		for k, v := range img.env {
			t.Setenv(k, v)
		}
		for k, v := range s.Environment {
			flag, ok := strings.CutPrefix(k, envPrefix)
			switch {
			case ok && newStartCmd(nil).Flags().Lookup(strings.ToLower(strings.ReplaceAll(flag, "_", "-"))) == nil:
				t.Errorf("compose %s sets %s, but start has no such flag", name, k)
			case !ok && !slices.Contains(goRuntimeEnv, k):
				t.Errorf("compose %s sets %s, which neither the proxy nor the Go runtime reads", name, k)
			}
			t.Setenv(k, interp.ReplaceAllStringFunc(v, func(m string) string {
				sub := interp.FindStringSubmatch(m)
				if sub[2] != "" {
					return sub[2]
				}
				return "set-by-" + sub[1]
			}))
		}
		if cfg, _, _, err := execute(t, append(slices.Clone(img.entrypoint[1:]), s.Command...)...); err != nil || cfg == nil {
			t.Errorf("compose %s: start with its environment: %v", name, err)
		}
	}
	if proxies == 0 {
		t.Error("compose.yaml has no service built from deploy/docker/Dockerfile")
	}
}
