package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

// Object is one Kubernetes object read from a file: a manifest or a Karmada policy.
type Object struct {
	File string         // the path it was read from; "stdin" for "-"
	Line int            // the line its document (or its item of a List) starts at
	Map  map[string]any // the object, with JSON-compatible values (int64, float64, ...)

	node *yaml.Node // its YAML node, to give the line of a field; nil if built by hand
}

// StdinName is the File of objects read from stdin.
const StdinName = "stdin"

// extensions are the file name extensions Load reads from a directory.
var extensions = []string{".yaml", ".yml", ".json"}

// Load reads objects from files, directories and stdin, in the order given. A directory
// contributes every *.yaml, *.yml and *.json file under it, recursively, sorted by path;
// a file named explicitly is read whatever its name; "-" reads stdin once.
func Load(paths []string, stdin io.Reader) ([]Object, error) {
	var objs []Object
	stdinRead := false
	for _, p := range paths {
		if p == "-" {
			if stdin == nil || stdinRead {
				return nil, errors.New(`"-": stdin is not available or was already read`)
			}
			stdinRead = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
			o, err := Parse(StdinName, data)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o...)
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			o, err := Parse(f, data)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o...)
		}
	}
	return objs, nil
}

// expand returns p if it is a file, or the manifest files under it, sorted.
func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(extensions, filepath.Ext(path)) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no %v files in the directory", p, extensions)
	}
	slices.Sort(files)
	return files, nil
}

// Parse reads the objects in one file's content: YAML documents separated by "---", or
// JSON values (when the content starts with '{'). Empty documents are skipped; a
// "kind: List" contributes its items.
func Parse(file string, data []byte) ([]Object, error) {
	var roots []*yaml.Node
	if isJSON(data) {
		var err error
		if roots, err = jsonNodes(file, data); err != nil {
			return nil, err
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, parseError(file, err)
			}
			if len(doc.Content) > 0 {
				roots = append(roots, doc.Content[0])
			}
		}
	}
	var objs []Object
	for _, root := range roots {
		var c converter
		v, err := c.value(root)
		if err != nil {
			return nil, lineErr(file, err)
		}
		if v == nil {
			continue // a document holding only comments or null
		}
		if objs, err = appendObjects(objs, file, root, v); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

func lineErr(file string, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %s", file, pe.line, pe.msg)
	}
	return fmt.Errorf("%s: %w", file, err)
}

// appendObjects appends the object v (read from node n), or the items of a List.
func appendObjects(objs []Object, file string, n *yaml.Node, v any) ([]Object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s:%d: a document must be a Kubernetes object (a mapping), not %s", file, n.Line, kindOf(v))
	}
	if m["kind"] != "List" {
		return append(objs, Object{File: file, Line: n.Line, Map: m, node: n}), nil
	}
	for k := range m {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "items" {
			return nil, fmt.Errorf("%s:%d: List: unknown field %q", file, lineOf(n, fieldPath{k}), k)
		}
	}
	items, ok := m["items"].([]any)
	if !ok && m["items"] != nil {
		return nil, fmt.Errorf("%s:%d: List: items must be a list", file, lineOf(n, fieldPath{"items"}))
	}
	itemsNode := resolveAlias(n)
	for i := 0; i+1 < len(itemsNode.Content); i += 2 {
		if itemsNode.Content[i].Value == "items" {
			itemsNode = resolveAlias(itemsNode.Content[i+1])
			break
		}
	}
	for i, it := range items {
		in := n // the List itself when items came through a merge key
		if itemsNode.Kind == yaml.SequenceNode && i < len(itemsNode.Content) {
			in = resolveAlias(itemsNode.Content[i])
		}
		var err error
		if objs, err = appendObjects(objs, file, in, it); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// kindOf names the JSON type of a value, for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
