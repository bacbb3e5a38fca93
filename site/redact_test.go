package site

import (
	"encoding/base64"
	"strings"
	"testing"

	"atoll/crdt"
)

const canary = "CANARY-7f3a9c"

// TestServedObject: no Secret value and no sealed body is in what GET /v1/objects
// serves, whatever form it takes; everything else is served as stored.
func TestServedObject(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(canary))
	secretJSON := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","annotations":{"` + lastApplied + `":"{\"data\":{\"p\":\"` + b64 + `\"}}"}},"data":{"p":"` + b64 + `"},"stringData":{"q":"` + canary + `"}}`
	cases := []struct {
		name      string
		obj       map[string]crdt.Value
		withheld  map[string]string
		mustServe []string // substrings of the served values
	}{
		{name: "secret template", obj: map[string]crdt.Value{
			"kind": {Bytes: []byte("Secret")}, "template": {Bytes: []byte(secretJSON)}},
			withheld: map[string]string{"template": WithheldSecret}, mustServe: []string{`"p":"<redacted: 20 bytes>"`, `"q":"<redacted: 13 bytes>"`}},
		{name: "secret template in YAML, kind unknown", obj: map[string]crdt.Value{
			"template": {Bytes: []byte("apiVersion: v1\nkind: Secret\nstringData:\n  q: " + canary + "\n")}},
			withheld: map[string]string{"template": WithheldSecret}, mustServe: []string{`"q":"<redacted: 13 bytes>"`}},
		{name: "a second YAML document", obj: map[string]crdt.Value{
			"template": {Bytes: []byte("apiVersion: v1\nkind: ConfigMap\n---\nkind: Secret\nstringData: {q: " + canary + "}\n")}},
			withheld: map[string]string{"template": ""}, mustServe: []string{`"kind":"ConfigMap"`}},
		{name: "a Secret in a List", obj: map[string]crdt.Value{
			"template": {Bytes: []byte(`{"kind":"List","items":[` + secretJSON + `]}`)}},
			withheld: map[string]string{"template": WithheldSecret}},
		{name: "secret data not a map", obj: map[string]crdt.Value{
			"template": {Bytes: []byte(`{"kind":"Secret","data":"` + canary + `"}`)}},
			withheld: map[string]string{"template": WithheldSecret}},
		{name: "overrides of a Secret", obj: map[string]crdt.Value{
			"kind":      {Bytes: []byte("Secret")},
			"template":  {Bytes: []byte(`{"kind":"Secret","metadata":{"name":"db"}}`)},
			"overrides": {Bytes: []byte(`[{"overriders":{"plaintext":[{"path":"/stringData/q","operator":"add","value":"` + canary + `"}],"labelsOverrider":[{"operator":"add","value":{"team":"pay"}}]}}]`)}},
			withheld: map[string]string{"template": "", "overrides": WithheldSecret}, mustServe: []string{`"team":"pay"`, `"path":"/stringData/q"`}},
		{name: "overrides adding a whole Secret", obj: map[string]crdt.Value{
			"kind":      {Bytes: []byte("ConfigMap")},
			"overrides": {Bytes: []byte(`[{"overriders":{"plaintext":[{"path":"","operator":"replace","value":{"kind":"Secret","data":{"p":"` + b64 + `"}}}]}}]`)}},
			withheld: map[string]string{"overrides": WithheldSecret}},
		{name: "body fields and what does not parse", obj: map[string]crdt.Value{
			"body/x":   {Bytes: []byte(canary)},
			"template": {Bytes: []byte("{" + canary)}},
			withheld: map[string]string{"body/x": WithheldOpaque, "template": WithheldOpaque}},
		{name: "sealed, held here", obj: map[string]crdt.Value{
			"kind":      {Bytes: []byte("Deployment")},
			"template":  {Bytes: []byte(`{"kind":"Deployment","env":"` + canary + `"}`), Sealed: true, BodyHash: crdt.Hash{1}},
			"overrides": {Bytes: []byte(`[]`), Sealed: true}},
			withheld: map[string]string{"template": WithheldSealed, "overrides": WithheldSealed}},
		{name: "a Deployment is served as stored", obj: map[string]crdt.Value{
			"kind": {Bytes: []byte("Deployment")}, "replicas": {Bytes: []byte("3")},
			"template": {Bytes: []byte(`{"kind":"Deployment","spec":{"replicas":3}}`)}},
			withheld:  map[string]string{"template": ""},
			mustServe: []string{`{"kind":"Deployment","spec":{"replicas":3}}`, "3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := servedObject(crdt.KindWorkload, c.obj)
			var all strings.Builder
			for f, v := range got {
				all.WriteString(v.Value + "\n")
				if want, ok := c.withheld[f]; ok && v.Withheld != want {
					t.Errorf("%s withheld %q, want %q", f, v.Withheld, want)
				}
				if c.obj[f].Sealed && (v.Value != "" || v.Hash != c.obj[f].BodyHash.Hex()) {
					t.Errorf("sealed %s served %q, hash %q", f, v.Value, v.Hash)
				}
			}
			for _, leak := range []string{canary, b64} {
				if strings.Contains(all.String(), leak) {
					t.Errorf("served %q", all.String())
				}
			}
			for _, s := range c.mustServe {
				if !strings.Contains(all.String(), s) {
					t.Errorf("served %q, want it to contain %q", all.String(), s)
				}
			}
		})
	}
}
