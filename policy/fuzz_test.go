package policy

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"atoll/scheduler"
)

// FuzzResolve reads arbitrary bytes as a file, resolves what it holds and applies the
// overrides for a cluster: nothing may panic, and what Resolve returns must hold
// together. The seed corpus is every file of testdata/fields, a few policies of the
// tests and the files in testdata/fuzz/FuzzResolve; the cluster is one that the rules of
// testdata/fields/override/target-clusters.yaml select.
//
//	go test ./policy/ -run '^$' -fuzz '^FuzzResolve$' -fuzztime 30s
func FuzzResolve(f *testing.F) {
	n := 0
	err := filepath.WalkDir("testdata/fields", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(b)
		n++
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if n == 0 {
		f.Fatal("no seeds in testdata/fields")
	}
	f.Add([]byte(deployWeb + "---\n" + op("o", selWeb1, imageRule) + "---\n" + pp("p", selByLabel, "  priority: 2\n")))
	f.Add([]byte(deployWeb + "---\n" + op("o", "", "  - overriders:\n      envOverrider: [{containerName: web, operator: add, value: [{name: A}]}]\n      plaintext: [{path: /spec/x, operator: add, value: [1]}]\n")))
	f.Add([]byte(`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]}`))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  <<: [{x: 1}, {y: 2}]\n"))
	c := &scheduler.Cluster{Site: "s1", Name: "alpha", Region: "eu-north-7", Labels: map[string]string{"tier": "gold"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		ws, _, err := Resolve(objs)
		if err != nil {
			return
		}
		for _, w := range ws {
			for i, r := range w.Overrides {
				if err := r.Validate(); err != nil {
					t.Fatalf("Resolve returned rule %d that does not validate: %v", i, err)
				}
			}
			b, err := json.Marshal(w.Overrides)
			if err != nil {
				t.Fatal(err)
			}
			var rs []Rule
			if err := json.Unmarshal(b, &rs); err != nil {
				t.Fatalf("stored rules do not read back: %v", err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(w.Template); err != nil {
				t.Fatalf("template %s: %v", w.Template, err)
			}
			_ = Apply(u, rs, c)
		}
	})
}
