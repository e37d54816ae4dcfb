package knative_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ref is one configuration key a component reads from the cluster.
type ref struct {
	Kind string // "secret" or "configMap", as func.yaml spells them
	Name string
	Key  string // "" for a whole Secret/ConfigMap
	From string // who reads it
}

// keySets maps "secret/NAME" and "configMap/NAME" to their keys.
type keySets map[string]map[string]bool

func (ks keySets) has(r ref) bool {
	keys, ok := ks[r.Kind+"/"+r.Name]
	return ok && (r.Key == "" || keys[r.Key])
}

func (ks keySets) add(kind, name string, keys ...string) {
	if ks[kind+"/"+name] == nil {
		ks[kind+"/"+name] = map[string]bool{}
	}
	for _, k := range keys {
		ks[kind+"/"+name][k] = true
	}
}

// fromObjects collects the ConfigMaps' and Secrets' keys among objs.
func fromObjects(objs []object) keySets {
	ks := keySets{}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.ConfigMap:
			ks.add("configMap", v.Name, sortedKeys(v.Data)...)
		case *corev1.Secret:
			ks.add("secret", v.Name, sortedKeys(v.StringData)...)
			for k := range v.Data {
				ks.add("secret", v.Name, k)
			}
		}
	}
	return ks
}

// templates are the ConfigMaps of base/ and the Secret templates in
// base/secrets/ (and its subfolders).
func templates(t *testing.T) keySets {
	t.Helper()
	files := []string{"base/config.yaml", "base/agents.yaml"}
	err := filepath.WalkDir("base/secrets", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeAll(f, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	return fromObjects(objs)
}

// funcRef matches func.yaml's `{{ secret:NAME:KEY }}`, `{{ configMap:NAME }}`.
var funcRef = regexp.MustCompile(`^\{\{\s*(secret|configMap):([-._a-zA-Z0-9]+)(?::([-._a-zA-Z0-9]+))?\s*\}\}$`)

// funcYAMLRefs reads every function's func.yaml: run.envs values and
// run.volumes that name a Secret or ConfigMap.
func funcYAMLRefs(t *testing.T) []ref {
	t.Helper()
	paths, err := filepath.Glob("../functions/*/func.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no func.yaml under functions/ (%v)", err)
	}
	var out []ref
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Run struct {
				Envs []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"envs"`
				Volumes []struct {
					Secret    string `json:"secret"`
					ConfigMap string `json:"configMap"`
				} `json:"volumes"`
			} `json:"run"`
		}
		if err := yaml.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, e := range f.Run.Envs {
			if m := funcRef.FindStringSubmatch(e.Value); m != nil {
				out = append(out, ref{Kind: m[1], Name: m[2], Key: m[3], From: p + " " + e.Name})
			}
		}
		for _, v := range f.Run.Volumes {
			if v.Secret != "" {
				out = append(out, ref{Kind: "secret", Name: v.Secret, From: p + " volume"})
			}
			if v.ConfigMap != "" {
				out = append(out, ref{Kind: "configMap", Name: v.ConfigMap, From: p + " volume"})
			}
		}
	}
	return out
}

// deploymentRefs lists the keys a Deployment's containers read.
func deploymentRefs(d *appsv1.Deployment) []ref {
	var out []ref
	from := "Deployment " + d.Name
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
			case e.ValueFrom.SecretKeyRef != nil:
				out = append(out, ref{Kind: "secret", Name: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key, From: from + " " + e.Name})
			case e.ValueFrom.ConfigMapKeyRef != nil:
				out = append(out, ref{Kind: "configMap", Name: e.ValueFrom.ConfigMapKeyRef.Name, Key: e.ValueFrom.ConfigMapKeyRef.Key, From: from + " " + e.Name})
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				out = append(out, ref{Kind: "secret", Name: e.SecretRef.Name, From: from})
			}
			if e.ConfigMapRef != nil {
				out = append(out, ref{Kind: "configMap", Name: e.ConfigMapRef.Name, From: from})
			}
		}
	}
	return out
}

// TestTemplatesHoldEveryKey: every Secret and ConfigMap key that a
// function's func.yaml or the connector Deployment reads is in the
// templates, so a platform team that fills in the templates misses none.
func TestTemplatesHoldEveryKey(t *testing.T) {
	ks := templates(t)
	refs := funcYAMLRefs(t)
	raw, err := os.ReadFile("base/connector-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll("base/connector-deployment.yaml", raw, true)
	if err != nil {
		t.Fatal(err)
	}
	refs = append(refs, deploymentRefs(objs[0].Value.(*appsv1.Deployment))...)
	if len(refs) < 10 {
		t.Fatalf("found %d references, want the functions' and the connector's", len(refs))
	}
	used := keySets{}
	for _, r := range refs {
		used.add(r.Kind, r.Name, r.Key)
		if !ks.has(r) {
			t.Errorf("%s reads %s %s key %q: not in the ConfigMaps of knative/base/ or knative/base/secrets/", r.From, r.Kind, r.Name, r.Key)
		}
	}
	// The reverse: a template key nobody reads is stale documentation.
	for obj, keys := range ks {
		for k := range keys {
			if !used[obj][k] {
				t.Errorf("template %s key %q is read by no func.yaml and not by the connector", obj, k)
			}
		}
	}
}

// checkReferences: in a rendered overlay, every key its workloads and the
// functions read exists, in the output or (for Secrets an overlay leaves
// to the operator) in the templates.
func checkReferences(t *testing.T, objs []object) {
	t.Helper()
	rendered, tmpl := fromObjects(objs), templates(t)
	refs := funcYAMLRefs(t)
	for _, d := range find[appsv1.Deployment](t, objs) {
		refs = append(refs, deploymentRefs(d)...)
	}
	for _, r := range refs {
		_, inOutput := rendered[r.Kind+"/"+r.Name]
		switch {
		case inOutput && !rendered.has(r):
			t.Errorf("%s reads %s %s key %q, missing from the rendered %s", r.From, r.Kind, r.Name, r.Key, r.Kind)
		case !inOutput && (r.Kind != "secret" || !tmpl.has(r)):
			t.Errorf("%s reads %s %s, which the overlay does not create and no template describes", r.From, r.Kind, r.Name)
		}
	}
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
