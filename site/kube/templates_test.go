package kube

import (
	"fmt"
	"testing"
)

// TestParseTemplateOwnCopies: a parsed template comes back as an object of the caller's
// own, twice alike, so that a render that changes it cannot change the next; a broken
// template is an error every time; and past maxParsed templates the memory stays bounded.
func TestParseTemplateOwnCopies(t *testing.T) {
	b := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {labels: {app: web}}\nspec: {replicas: 2}\n")
	first, err := parseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	first["kind"] = "Changed"
	first["metadata"].(map[string]any)["labels"].(map[string]any)["app"] = "changed"
	second, err := parseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	if second["kind"] != "Deployment" || second["metadata"].(map[string]any)["labels"].(map[string]any)["app"] != "web" {
		t.Fatalf("the second parse shows the first caller's changes: %v", second)
	}
	for range 2 {
		if _, err := parseTemplate([]byte("kind: [unclosed")); err == nil {
			t.Fatal("a broken template parsed")
		}
	}
	for i := range 2 * maxParsed {
		if _, err := parseTemplate(fmt.Appendf(nil, "kind: ConfigMap\ndata: {n: %q}\n", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	parsed.Lock()
	n := len(parsed.m)
	parsed.Unlock()
	if n > maxParsed {
		t.Errorf("%d parsed templates kept, over the bound of %d", n, maxParsed)
	}
}
