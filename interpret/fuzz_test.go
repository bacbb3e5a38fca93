package interpret

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: whatever the bytes, Decode returns a customization or an error, within
// its bounds, and never panics; what it returns can be run without panicking.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../examples/interpreter/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(custom(OpHealth, "function InterpretHealth(o) return o.status ~= nil end")))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		if c.Name == "" || c.Kind == "" || len(c.Scripts) == 0 {
			t.Fatalf("Decode accepted %+v", c)
		}
		o := Object{"apiVersion": c.APIVersion, "kind": c.Kind, "metadata": map[string]any{"name": "a", "namespace": "n"},
			"spec": map[string]any{"replicas": 2, "template": map[string]any{}}, "status": map[string]any{}}
		_, _, _ = c.GetReplicas(o)
		_, _ = c.InterpretHealth(o)
		_, _ = c.ReflectStatus(o)
		_, _ = c.GetDependencies(o)
	})
}
