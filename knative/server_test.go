package knative_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
)

// TestServerSideApply applies both overlays with `kubectl apply
// --dry-run=server` to a real kube-apiserver (on etcd) that has Knative
// eventing's CRDs: the real OpenAPI schemas, defaulting and strict field
// validation, which the Go types alone do not give (a port name over 15
// characters, an invalid label value, an HPA policy out of range). Knative's
// webhooks do not run here; the Go tests cover their validation.
//
// It needs etcd (Debian's etcd-server), kubectl and a kube-apiserver
// binary (KUBE_APISERVER=path, else $AGENTCHAT_CACHE/bin/kube-apiserver as
// knative/hack/build-kube-apiserver.sh builds it); the test command
// installs and builds them. Without one of them it ends through
// testenv.Missing: a skip by hand, a failure under CI=true.
func TestServerSideApply(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no API server")
	}
	apiserver := os.Getenv("KUBE_APISERVER")
	if apiserver == "" {
		cache := os.Getenv("AGENTCHAT_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "agentchat")
		}
		apiserver = filepath.Join(cache, "bin", "kube-apiserver")
	}
	if _, err := os.Stat(apiserver); err != nil {
		testenv.Missing(t, "no kube-apiserver at %s (knative/hack/build-kube-apiserver.sh builds it)", apiserver)
	}
	etcd := testenv.Tool(t, "etcd")
	kubectl := testenv.Tool(t, "kubectl")
	eventing, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "knative.dev/eventing").Output()
	if err != nil {
		t.Fatalf("locate knative.dev/eventing's module (for its CRDs): %v", err)
	}
	crds := filepath.Join(strings.TrimSpace(string(eventing)), "config", "core", "resources")

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := func(name string, args ...string) {
		log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { cancel(); cmd.Wait(); log.Close() })
	}
	etcdPort, peerPort, apiPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	start(etcd, "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "default="+peerURL)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "sa.key")
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	write(t, filepath.Join(dir, "tokens.csv"), "test-token,admin,admin,system:masters\n")
	start(apiserver, "--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "AlwaysAllow", "--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", keyFile, "--service-account-signing-key-file", keyFile,
		"--service-cluster-ip-range", "10.96.0.0/16")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	write(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}}]
users: [{name: t, user: {token: test-token}}]
contexts: [{name: t, context: {cluster: t, user: t}}]
current-context: t
`, apiPort))
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, func() bool {
		_, err := run("get", "--raw", "/readyz")
		return err == nil
	}, "kube-apiserver ready (logs in %s)", dir)

	for _, crd := range []string{"broker.yaml", "trigger.yaml", "sinkbindings.yaml"} {
		if out, err := run("apply", "-f", filepath.Join(crds, crd)); err != nil {
			t.Fatalf("install CRD %s: %v\n%s", crd, err, out)
		}
	}
	if out, err := run("wait", "--for", "condition=established", "--timeout", "60s",
		"crd/brokers.eventing.knative.dev", "crd/triggers.eventing.knative.dev", "crd/sinkbindings.sources.knative.dev"); err != nil {
		t.Fatalf("CRDs not established: %v\n%s", err, out)
	}
	// A dry run of namespaced objects needs their namespace to exist.
	if out, err := run("apply", "-f", "base/namespace.yaml"); err != nil {
		t.Fatalf("create the namespace: %v\n%s", err, out)
	}
	for _, target := range [][]string{
		{"-k", "overlays/dev"},
		{"-k", "overlays/production"},
		{"-f", "examples/connector-ingress-nginx.yaml"},
	} {
		t.Run(target[1], func(t *testing.T) {
			out, err := run(append([]string{"apply", "--dry-run=server", "--validate=strict"}, target...)...)
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server %s: %v\n%s", strings.Join(target, " "), err, out)
			}
			if n := strings.Count(out, "(server dry run)"); n < 1 {
				t.Errorf("no object was dry-run:\n%s", out)
			}
		})
	}
	// The check has teeth: the server refuses a misspelt field.
	bad := filepath.Join(dir, "bad-service.yaml")
	raw, err := os.ReadFile("base/connector-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, bad, strings.Replace(string(raw), "targetPort:", "targetport:", 1))
	if out, err := run("apply", "--dry-run=server", "--validate=strict", "-f", bad); err == nil {
		t.Errorf("the API server accepted a misspelt field:\n%s", out)
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
