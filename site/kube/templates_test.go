package kube

import (
	"fmt"
	"testing"
)

// TestParseTemplateOwnCopies: a parsed template comes back as an object of the caller's
// own, twice alike, so that a render that changes it cannot change the next; a broken
// template is an error every time; and past maxParsed templates the memory stays bounded.
func TestParseTemplateOwnCopies(t *testing.T) {
	ts := NewTemplates()
	b := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {labels: {app: web}}\nspec: {replicas: 2}\n")
	first, err := ts.parse(b)
	if err != nil {
		t.Fatal(err)
	}
	first["kind"] = "Changed"
	first["metadata"].(map[string]any)["labels"].(map[string]any)["app"] = "changed"
	second, err := ts.parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if second["kind"] != "Deployment" || second["metadata"].(map[string]any)["labels"].(map[string]any)["app"] != "web" {
		t.Fatalf("the second parse shows the first caller's changes: %v", second)
	}
	for range 2 {
		if _, err := ts.parse([]byte("kind: [unclosed")); err == nil {
			t.Fatal("a broken template parsed")
		}
	}
	for i := range 2 * maxParsed {
		if _, err := ts.parse(fmt.Appendf(nil, "kind: ConfigMap\ndata: {n: %q}\n", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	ts.mu.Lock()
	n := len(ts.m)
	ts.mu.Unlock()
	if n > maxParsed {
		t.Errorf("%d parsed templates kept, over the bound of %d", n, maxParsed)
	}
}
