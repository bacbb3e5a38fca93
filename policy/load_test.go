package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		names []string // metadata.name of each object, in order
		lines []int
	}{
		{"one document", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", []string{"a"}, []int{1}},
		{"documents, empty ones skipped", "# head\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n", []string{"a", "b"}, []int{3, 10}},
		{"a List's items", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: List\n  items:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: b}\n", []string{"a", "b"}, []int{4, 10}},
		{"an empty List", "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems: []\n", nil, nil},
		{"JSON", "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"name\": \"a\"},\n  \"data\": {\"url\": \"http:\\/\\/x\"}\n}\n{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}\n", []string{"a", "b"}, []int{1, 7}},
		{"JSON List", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}", []string{"a"}, []int{2}},
		{"merge keys and anchors", "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a, labels: {x: y}}\ndata:\n  <<: {k: from-merge, j: merged}\n  k: explicit\n", []string{"a"}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Parse("f.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var lines []int
			for _, o := range objs {
				_, n := ident(o.Map)
				names, lines = append(names, n), append(lines, o.Line)
				if o.File != "f.yaml" {
					t.Errorf("File %q", o.File)
				}
			}
			if !reflect.DeepEqual(names, tc.names) || !reflect.DeepEqual(lines, tc.lines) {
				t.Errorf("got %v at lines %v, want %v at %v", names, lines, tc.names, tc.lines)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	objs, err := Parse("f.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data:
  <<: {k: from-merge, j: merged}
  k: explicit
  int: 42
  octal: 0755
  float: 1.5
  bool: true
  yes: yes
  date: 2001-12-14
  null: ~
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"k": "explicit", "j": "merged", "int": int64(42), "octal": int64(493), "float": 1.5,
		"bool": true, "yes": "yes", "date": "2001-12-14", "null": nil}
	if got := objs[0].Map["data"]; !reflect.DeepEqual(got, want) {
		t.Errorf("data = %#v\nwant %#v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"malformed YAML", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   labels: x\n", "f.yaml:5: malformed YAML: mapping values are not allowed"},
		{"malformed in a later document", "a: b\n---\nc: d\n  e: f\n", "f.yaml:4: malformed YAML"},
		{"unclosed flow", "a: [1, 2\n", "f.yaml:1: malformed YAML"},
		{"malformed JSON", "{\n \"a\": 1,\n \"b\": ,\n}", "f.yaml:3: malformed JSON"},
		{"truncated JSON", "{\"apiVersion\": \"v1\",\n \"data\": [[1,\n", "f.yaml:2: malformed JSON: unexpected EOF"},
		{"deep JSON", "{\"a\": " + strings.Repeat("[", 20000), "malformed JSON: exceeded max depth of 10000"},
		{"deep YAML", "a: " + strings.Repeat("[", 20000), "exceeded max depth of 10000"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n", `f.yaml:5: duplicate key "name"`},
		{"duplicate JSON key", "{\"kind\": \"A\",\n\"kind\": \"B\"}", `f.yaml:2: duplicate key "kind"`},
		{"a scalar document", "just text\n", "f.yaml:1: a document must be a Kubernetes object (a mapping), not a string"},
		{"a list document", "- a\n- b\n", "f.yaml:1: a document must be a Kubernetes object (a mapping), not a list"},
		{"alias to itself", "a: &x [1, *x]\n", "f.yaml:1: alias *x refers to itself"},
		{"infinity", "a: .inf\n", "f.yaml:1: .inf: JSON cannot hold this number"},
		{"custom tag", "a: !foo bar\n", `f.yaml:1: "bar": YAML tag !foo is not supported`},
		{"non-scalar key", "? [a]\n: b\n", "f.yaml:1: a mapping key must be a scalar"},
		{"List items not a list", "apiVersion: v1\nkind: List\nitems: {}\n", "f.yaml:3: List: items must be a list"},
		{"List item not an object", "apiVersion: v1\nkind: List\nitems:\n- 3\n", "f.yaml:4: a document must be a Kubernetes object"},
		{"List unknown field", "apiVersion: v1\nkind: List\nfoo: 1\nitems: []\n", `f.yaml:3: List: unknown field "foo"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseAliasBomb(t *testing.T) {
	text := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := string(i - 1)
		text += string(i) + ": &" + string(i) + " [*" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + "]\n"
	}
	_, err := Parse("bomb.yaml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "document expands to more than") {
		t.Fatalf("got %v, want a refusal", err)
	}
}

// writeTree creates files (relative path -> content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cm(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
}

func TestLoadDirectory(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"b.yaml":        cm("b"),
		"a/z.yml":       cm("a-z"),
		"a.yaml":        cm("a"),
		"c/d/e.json":    `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c-d-e"}}`,
		"notes.txt":     "not a manifest",
		"c/README.md":   "# not a manifest",
		"c/skip.yaml.x": "not a manifest",
	})
	objs, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		rel, _ := filepath.Rel(dir, o.File)
		_, n := ident(o.Map)
		got = append(got, rel+"="+n)
	}
	// Sorted by path: "a.yaml" < "a/z.yml" since '.' < '/'.
	want := []string{"a.yaml=a", "a/z.yml=a-z", "b.yaml=b", "c/d/e.json=c-d-e"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadOrderAndStdin(t *testing.T) {
	dir := writeTree(t, map[string]string{"x.txt": cm("explicit"), "d/one.yaml": cm("one")})
	stdin := strings.NewReader(cm("from-stdin") + "---\n" + cm("second"))
	objs, err := Load([]string{filepath.Join(dir, "x.txt"), "-", filepath.Join(dir, "d")}, stdin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		_, n := ident(o.Map)
		got = append(got, n+"@"+filepath.Base(o.File)+":"+strconv.Itoa(o.Line))
	}
	want := []string{"explicit@x.txt:1", "from-stdin@stdin:1", "second@stdin:6", "one@one.yaml:1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := writeTree(t, map[string]string{"empty/readme.md": "x", "bad.yaml": "a: [\n"})
	for _, tc := range []struct {
		name  string
		paths []string
		stdin *strings.Reader
		want  string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, nil, "no such file"},
		{"directory without manifests", []string{filepath.Join(dir, "empty")}, nil, "no [.yaml .yml .json] files"},
		{"stdin twice", []string{"-", "-"}, strings.NewReader(""), "already read"},
		{"no stdin", []string{"-"}, nil, "stdin is not available"},
		{"malformed file", []string{filepath.Join(dir, "bad.yaml")}, nil, "bad.yaml:1: malformed YAML"},
		{"malformed stdin", []string{"-"}, strings.NewReader("a: b\nc\n"), "stdin:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.stdin != nil {
				_, err = Load(tc.paths, tc.stdin)
			} else {
				_, err = Load(tc.paths, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
