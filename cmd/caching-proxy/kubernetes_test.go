package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// The Kubernetes manifests under deploy/ are decoded by Kubernetes' own API types
// (k8s.io/api), strictly: an unknown or misspelt field is an error, as with
// `kubectl apply --validate=strict`. Then the settings the proxy gets from them are
// run through this binary's own start command.

const (
	k8sDir    = "../../deploy/kubernetes"
	k8sTLSDir = "../../deploy/kubernetes-tls"
)

// kustomization is the part of kustomize's Kustomization these directories use; any
// other field is an error, so this list cannot silently fall behind the files.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// manifest is one decoded document.
type manifest struct {
	file string
	raw  []byte // the document as JSON
	obj  any    // *appsv1.Deployment, *corev1.Service, ...
}

func (m manifest) String() string { return m.file }

// decodeFile splits a YAML file into documents and decodes each strictly into the
// type its apiVersion and kind name.
func decodeFile(t *testing.T, file string) []manifest {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "monitoring.coreos.com/v1 ServiceMonitor":
			obj = &monitoringv1.ServiceMonitor{}
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			obj = &kustomization{}
		default:
			t.Fatalf("%s: no API type for %q %q: add it to decodeFile", file, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v", file, tm.Kind, nameOf(obj), err)
			continue
		}
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, manifest{file: file, raw: raw, obj: obj})
	}
	if len(out) == 0 {
		t.Errorf("%s: no documents", file)
	}
	return out
}

func nameOf(obj any) string {
	if o, ok := obj.(metav1.Object); ok {
		return o.GetName()
	}
	return ""
}

// decodeDir decodes every YAML file of dir and checks that its kustomization lists
// every file but the examples, and only files that exist.
func decodeDir(t *testing.T, dir string) (all []manifest, k *kustomization) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	for _, f := range files {
		for _, m := range decodeFile(t, f) {
			if kz, ok := m.obj.(*kustomization); ok {
				k = kz
				continue
			}
			all = append(all, m)
		}
	}
	if k == nil {
		t.Fatalf("%s has no kustomization.yaml", dir)
	}
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
		}
		listed[r] = true
	}
	for _, p := range k.Patches {
		if _, err := os.Stat(filepath.Join(dir, p.Path)); err != nil {
			t.Errorf("%s/kustomization.yaml: patch %s: %v", dir, p.Path, err)
		}
		listed[p.Path] = true
	}
	for _, f := range files {
		if b := filepath.Base(f); !listed[b] && !strings.HasSuffix(b, ".example.yaml") {
			t.Errorf("%s is neither in kustomization.yaml nor named *.example.yaml", f)
		}
	}
	return all, k
}

func find[T any](ms []manifest, name string) (T, bool) {
	for _, m := range ms {
		if o, ok := m.obj.(T); ok && (name == "" || nameOf(o) == name) {
			return o, true
		}
	}
	var zero T
	return zero, false
}

// goRuntimeEnv are the variables the Go runtime itself reads; anything else a manifest
// sets must be a CACHING_PROXY_ variable of a real flag.
var goRuntimeEnv = []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS", "GODEBUG"}

// podSettings resolves what the proxy container sees: the image's environment, then
// envFrom ConfigMaps, then env (Secrets become placeholders, resource fields are
// skipped), and the arguments after the ENTRYPOINT.
func podSettings(t *testing.T, ms []manifest, img image, c corev1.Container) (env map[string]string, args []string) {
	t.Helper()
	env = map[string]string{}
	for k, v := range img.env {
		env[k] = v
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("container %s: envFrom other than a ConfigMap", c.Name)
			continue
		}
		cm, ok := find[*corev1.ConfigMap](ms, from.ConfigMapRef.Name)
		if !ok {
			t.Errorf("container %s: envFrom ConfigMap %q is not among the manifests", c.Name, from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "from-secret-" + e.ValueFrom.SecretKeyRef.Name
		case e.ValueFrom.ResourceFieldRef != nil:
			if !slices.Contains(goRuntimeEnv, e.Name) {
				t.Errorf("container %s: %s from a resource field is not a Go runtime variable", c.Name, e.Name)
			}
		default:
			t.Errorf("container %s: %s has a valueFrom this test does not resolve", c.Name, e.Name)
		}
	}
	if len(c.Command) > 0 {
		t.Errorf("container %s: command %q replaces the image's ENTRYPOINT", c.Name, c.Command)
	}
	return env, append(slices.Clone(img.entrypoint[1:]), c.Args...)
}

// checkProxyDeployment holds a caching-proxy Deployment to what matters in production.
func checkProxyDeployment(t *testing.T, ms []manifest, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == "caching-proxy" })
	if i < 0 {
		t.Fatalf("Deployment %s has no caching-proxy container", d.Name)
	}
	c := pod.Containers[i]

	// Every variable and flag exists, and together they make a config start accepts.
	env, args := podSettings(t, ms, readImage(t), c)
	start := newStartCmd(nil)
	for name := range env {
		flag, ok := strings.CutPrefix(name, envPrefix)
		switch {
		case ok && start.Flags().Lookup(strings.ToLower(strings.ReplaceAll(flag, "_", "-"))) == nil:
			t.Errorf("%s sets %s, but start has no flag --%s", d.Name, name, strings.ToLower(strings.ReplaceAll(flag, "_", "-")))
		case !ok && !slices.Contains(goRuntimeEnv, name):
			t.Errorf("%s sets %s, which neither the proxy nor the Go runtime reads", d.Name, name)
		}
	}
	unsetProxyEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, _, _, err := execute(t, args...)
	if err != nil || cfg == nil {
		t.Fatalf("%s: caching-proxy %s with the pod's environment: %v", d.Name, strings.Join(args, " "), err)
	}

	// Probes: /healthz on the admin port, over HTTPS when the admin listener has TLS.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	_, adminPort, _ := strings.Cut(cfg.Admin(), ":")
	_, publicPort, _ := strings.Cut(cfg.Listen(), ":")
	if strconv.Itoa(int(ports["admin"])) != adminPort || strconv.Itoa(int(ports["http"])) != publicPort {
		t.Errorf("%s: container ports admin %d, http %d; the proxy listens on admin %s, public %s",
			d.Name, ports["admin"], ports["http"], adminPort, publicPort)
	}
	wantScheme := corev1.URISchemeHTTP
	if cfg.AdminTLS() {
		wantScheme = corev1.URISchemeHTTPS
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s: no HTTP %s probe", d.Name, name)
		case p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "admin" && p.HTTPGet.Port.String() != adminPort:
			t.Errorf("%s: %s probe GET %s on port %s, want /healthz on the admin port", d.Name, name, p.HTTPGet.Path, p.HTTPGet.Port.String())
		case p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != wantScheme || p.HTTPGet.Scheme == "" && wantScheme != corev1.URISchemeHTTP:
			t.Errorf("%s: %s probe scheme %q, want %s", d.Name, name, p.HTTPGet.Scheme, wantScheme)
		}
	}
	if got := d.Spec.Template.Annotations["prometheus.io/port"]; got != "" && got != adminPort {
		t.Errorf("%s: prometheus.io/port %s is not the admin port %s", d.Name, got, adminPort)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no CPU limit (Go derives GOMAXPROCS from it)", d.Name)
	}
	if cfg.TLS() {
		checkTLSMount(t, ms, pod, c, cfg.TLSCert, cfg.TLSKey)
	}
}

// checkTLSMount: the certificate and key are files of a kubernetes.io/tls Secret,
// mounted as a directory (a subPath mount never sees the Secret's updates).
func checkTLSMount(t *testing.T, ms []manifest, pod corev1.PodSpec, c corev1.Container, certFile, keyFile string) {
	t.Helper()
	for _, f := range []string{certFile, keyFile} {
		i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return filepath.Dir(f) == m.MountPath })
		if i < 0 {
			t.Errorf("%s is not in a mounted directory", f)
			continue
		}
		m := c.VolumeMounts[i]
		if m.SubPath != "" || !m.ReadOnly {
			t.Errorf("mount %s: subPath %q, readOnly %v; want a read-only directory mount", m.MountPath, m.SubPath, m.ReadOnly)
		}
		j := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if j < 0 || pod.Volumes[j].Secret == nil {
			t.Errorf("mount %s is not a Secret volume", m.MountPath)
			continue
		}
		name := pod.Volumes[j].Secret.SecretName
		s, ok := find[*corev1.Secret](ms, name)
		if !ok {
			t.Errorf("Secret %s has no example manifest", name)
			continue
		}
		if _, has := s.StringData[filepath.Base(f)]; s.Type != corev1.SecretTypeTLS || !has {
			t.Errorf("Secret %s: type %q, keys %v; want kubernetes.io/tls holding %s", name, s.Type, slices.Collect(mapsKeys(s.StringData)), filepath.Base(f))
		}
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkHardened: every container of every Deployment runs as non-root on a read-only
// root filesystem without privilege escalation, with memory requests and limits.
func checkHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s/%s: no securityContext", d.Name, c.Name)
			continue
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil && pod.SecurityContext != nil {
			nonRoot = pod.SecurityContext.RunAsNonRoot
		}
		uid := sc.RunAsUser
		if uid == nil && pod.SecurityContext != nil {
			uid = pod.SecurityContext.RunAsUser
		}
		switch {
		case nonRoot == nil || !*nonRoot:
			t.Errorf("%s/%s: runAsNonRoot is not true", d.Name, c.Name)
		case uid != nil && *uid == 0:
			t.Errorf("%s/%s: runs as uid 0", d.Name, c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: root filesystem is writable", d.Name, c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation is not false", d.Name, c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: capabilities not dropped", d.Name, c.Name)
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Errorf("%s/%s: no memory limit", d.Name, c.Name)
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			t.Errorf("%s/%s: no memory request", d.Name, c.Name)
		}
	}
}

// checkServices: every Service port targets a named port a selected container has.
func checkServices(t *testing.T, ms []manifest) {
	t.Helper()
	for _, m := range ms {
		s, ok := m.obj.(*corev1.Service)
		if !ok {
			continue
		}
		var named []string
		for _, dm := range ms {
			d, ok := dm.obj.(*appsv1.Deployment)
			if !ok || !selects(s.Spec.Selector, d.Spec.Template.Labels) {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					named = append(named, p.Name)
				}
			}
		}
		if len(named) == 0 {
			t.Errorf("Service %s selects no Deployment's pods", s.Name)
		}
		for _, p := range s.Spec.Ports {
			if !slices.Contains(named, p.TargetPort.String()) {
				t.Errorf("Service %s port %d targets %q, which its pods do not name (%v)", s.Name, p.Port, p.TargetPort.String(), named)
			}
		}
	}
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

func TestKubernetesManifests(t *testing.T) {
	ms, _ := decodeDir(t, k8sDir)
	d, ok := find[*appsv1.Deployment](ms, "caching-proxy")
	if !ok {
		t.Fatal("no caching-proxy Deployment")
	}
	checkProxyDeployment(t, ms, d)
	for _, m := range ms {
		if d, ok := m.obj.(*appsv1.Deployment); ok {
			checkHardened(t, d)
		}
	}
	checkServices(t, ms)
	// The ServiceMonitor scrapes the admin Service's named port.
	if sm, ok := find[*monitoringv1.ServiceMonitor](ms, ""); ok {
		svc, found := corev1.Service{}, false
		for _, m := range ms {
			if s, ok := m.obj.(*corev1.Service); ok && selects(sm.Spec.Selector.MatchLabels, s.Labels) {
				svc, found = *s, true
			}
		}
		if !found || len(sm.Spec.Endpoints) == 0 || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == sm.Spec.Endpoints[0].Port }) {
			t.Errorf("ServiceMonitor %s does not select a Service with port %v", sm.Name, sm.Spec.Endpoints)
		}
	}
}

// The TLS example is a kustomize overlay; the test applies its patches with
// Kubernetes' own strategic merge (what kustomize does) and checks the result as it
// checks the base, plus the Secret mount behind --tls-cert/--tls-key.
func TestKubernetesTLSOverlay(t *testing.T) {
	base, _ := decodeDir(t, k8sDir)
	overlay, k := decodeDir(t, k8sTLSDir)
	if !slices.Contains(k.Resources, "../kubernetes") {
		t.Fatalf("%s does not build on ../kubernetes: resources %v", k8sTLSDir, k.Resources)
	}
	merged := slices.Clone(base)
	for _, p := range k.Patches {
		patches := decodeFile(t, filepath.Join(k8sTLSDir, p.Path))
		for _, pm := range patches {
			i := slices.IndexFunc(merged, func(m manifest) bool {
				return nameOf(m.obj) == nameOf(pm.obj) && typeName(m.obj) == typeName(pm.obj)
			})
			if i < 0 {
				t.Fatalf("%s patches %s %s, which the base does not have", p.Path, typeName(pm.obj), nameOf(pm.obj))
			}
			out, err := strategicpatch.StrategicMergePatch(merged[i].raw, pm.raw, zeroOf(pm.obj))
			if err != nil {
				t.Fatalf("%s: %v", p.Path, err)
			}
			obj := zeroOf(pm.obj)
			if err := yaml.UnmarshalStrict(out, obj); err != nil {
				t.Fatalf("%s merged: %v", p.Path, err)
			}
			merged[i] = manifest{file: p.Path, raw: out, obj: obj}
		}
	}
	for _, m := range overlay {
		if _, ok := m.obj.(*corev1.Secret); ok {
			merged = append(merged, m) // the example stands for the Secret the user creates
		}
	}
	d, _ := find[*appsv1.Deployment](merged, "caching-proxy")
	baseD, _ := find[*appsv1.Deployment](base, "caching-proxy")
	for _, a := range baseD.Spec.Template.Spec.Containers[0].Args {
		if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, a) {
			t.Errorf("the TLS overlay drops the base's argument %s (a strategic merge replaces args whole)", a)
		}
	}
	checkProxyDeployment(t, merged, d)
	checkHardened(t, d)
	checkServices(t, merged)
	cfgArgs := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(cfgArgs, "--tls-cert=") || !strings.Contains(cfgArgs, "--tls-key=") {
		t.Errorf("the TLS overlay passes %q, without --tls-cert and --tls-key", cfgArgs)
	}
}

// typeName is the kind of a decoded object.
func typeName(obj any) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Service:
		return "Service"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Secret:
		return "Secret"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	case *monitoringv1.ServiceMonitor:
		return "ServiceMonitor"
	}
	return "?"
}

// zeroOf is a new, empty value of obj's type, for strategic merge's schema.
func zeroOf(obj any) any {
	switch obj.(type) {
	case *appsv1.Deployment:
		return &appsv1.Deployment{}
	case *corev1.Service:
		return &corev1.Service{}
	}
	panic("no strategic merge schema for " + typeName(obj))
}
