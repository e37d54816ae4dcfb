package knative_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// kustomization is the part of a kustomization file these tests read.
type kustomization struct {
	Resources []string `json:"resources"`
	Patches   []struct {
		Path  string `json:"path"`
		Patch string `json:"patch"`
	} `json:"patches"`
}

// kustomizationFiles are the names kustomize looks for in a folder.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	for _, name := range kustomizationFiles {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.Unmarshal(raw, &k); err != nil {
			t.Fatalf("%s/%s: %v", dir, name, err)
		}
		return k
	}
	t.Fatalf("%s has no kustomization file", dir)
	return kustomization{}
}

// manifestFiles lists knative/'s YAML files (not kustomization files),
// each marked as a patch or a complete manifest by the kustomization of
// its overlay, and checks that every file outside examples/ is used by a
// kustomization: a forgotten file would silently not be applied.
func manifestFiles(t *testing.T) (files []string, patch map[string]bool) {
	t.Helper()
	used := map[string]bool{}
	patch = map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir() || !strings.HasSuffix(name, ".yaml"):
		case name == "kustomization.yaml":
			dir := filepath.Dir(path)
			k := readKustomization(t, dir)
			for _, r := range k.Resources {
				used[filepath.Join(dir, r)] = true
			}
			for _, p := range k.Patches {
				if p.Path != "" {
					used[filepath.Join(dir, p.Path)] = true
					patch[filepath.Join(dir, p.Path)] = true
				}
			}
		default:
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		if !used[f] && !strings.HasPrefix(f, "examples"+string(filepath.Separator)) {
			t.Errorf("%s is in no kustomization's resources or patches: it would never be applied", f)
		}
	}
	return files, patch
}

// TestFilesDecodeStrictly decodes every manifest under knative/ into its
// Go type, unknown fields failing; complete manifests are validated too.
func TestFilesDecodeStrictly(t *testing.T) {
	files, patch := manifestFiles(t)
	if len(files) < 10 {
		t.Fatalf("found %d manifests under knative/, want the base and both overlays", len(files))
	}
	for _, f := range files {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeAll(f, raw, !patch[f])
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no manifest in the file")
			}
			for _, o := range objs {
				if o.Namespace != "agentchat" && o.Kind != "v1/Namespace" {
					t.Errorf("%s: namespace %q, want agentchat", o, o.Namespace)
				}
			}
		})
	}
}

// TestTypoFails proves the strict decoding above has teeth: one misspelt
// field in a real manifest of each kind makes it fail.
func TestTypoFails(t *testing.T) {
	for _, tc := range []struct{ file, field, typo string }{
		{"base/connector-deployment.yaml", "readinessProbe:", "readinesProbe:"},
		{"base/connector-deployment.yaml", "terminationGracePeriodSeconds:", "terminationGracePeriod:"},
		{"base/connector-service.yaml", "targetPort:", "targetport:"},
		{"base/connector-serviceaccount.yaml", "automountServiceAccountToken:", "automountToken:"},
		{"base/connector-pdb.yaml", "maxUnavailable:", "maxUnavailble:"},
		{"base/connector-sinkbinding.yaml", "subject:", "subjekt:"},
		{"base/namespace.yaml", "labels:", "label:"},
		{"base/config.yaml", "data:", "dat:"},
		{"base/secrets/backing/redis.yaml", "stringData:", "stringdata:"},
		{"overlays/production/connector-hpa.yaml", "minReplicas:", "minReplica:"},
		{"examples/connector-ingress-nginx.yaml", "ingressClassName:", "ingressClass:"},
		{"../brokers/broker-dev.yaml", "deadLetterSink:", "deadLetterSinc:"},
		{"../triggers/persist.yaml", "subscriber:", "subscribers:"},
		// Case only: encoding/json would match these; the API server does not.
		{"base/connector-deployment.yaml", "livenessProbe:", "livenessprobe:"},
		{"../triggers/persist.yaml", "backoffDelay:", "backoffdelay:"},
	} {
		t.Run(tc.file+"/"+tc.typo, func(t *testing.T) {
			raw, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeAll(tc.file, raw, true); err != nil {
				t.Fatalf("the file itself does not decode: %v", err)
			}
			if !strings.Contains(string(raw), tc.field) {
				t.Fatalf("%s has no %q to misspell", tc.file, tc.field)
			}
			bad := strings.Replace(string(raw), tc.field, tc.typo, 1)
			if _, err := decodeAll(tc.file, []byte(bad), true); err == nil {
				t.Errorf("%q misspelt as %q still decodes", tc.field, tc.typo)
			}
		})
	}
}

// TestSourceKustomizations checks the kustomization files added to
// brokers/ and triggers/: triggers/ lists every Trigger file; brokers/
// lists the dev Broker and every ConfigMap (see brokers/kustomization.yml
// for why not the production Broker).
func TestSourceKustomizations(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		exclude func(name string) bool
	}{
		{"../triggers", func(string) bool { return false }},
		{"../brokers", func(name string) bool { return strings.HasPrefix(name, "broker-") && name != "broker-dev.yaml" }},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			names, err := filepath.Glob(filepath.Join(tc.dir, "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range names {
				if n = filepath.Base(n); !tc.exclude(n) {
					want = append(want, n)
				}
			}
			got := append([]string(nil), readKustomization(t, tc.dir).Resources...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s/kustomization.yml lists %v, want %v", tc.dir, got, want)
			}
		})
	}
}
