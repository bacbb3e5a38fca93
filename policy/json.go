package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// isJSON reports whether content looks like JSON rather than YAML: its first
// non-blank byte opens an object, as Kubernetes' YAMLOrJSONDecoder decides.
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// jsonNodes reads a stream of JSON values into YAML node trees carrying line numbers,
// so that JSON and YAML files are checked alike. (go-yaml does not read every JSON
// string: it refuses the escape "\/".)
func jsonNodes(file string, data []byte) ([]*yaml.Node, error) {
	b := &jsonBuilder{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	b.dec.UseNumber()
	var out []*yaml.Node
	for {
		n, err := b.value()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%s:%d: malformed JSON: %v", file, b.line(se.Offset), err)
			}
			return nil, fmt.Errorf("%s:%d: malformed JSON: %v", file, b.line(b.dec.InputOffset()), err)
		}
		out = append(out, n)
	}
}

type jsonBuilder struct {
	dec   *json.Decoder
	data  []byte
	depth int
}

// maxJSONDepth bounds nesting, as go-yaml does for YAML.
const maxJSONDepth = 10000

// line is the line of a byte offset; a token cannot span lines, so the offset just
// after a token gives its line.
func (b *jsonBuilder) line(off int64) int {
	off = min(max(off, 0), int64(len(b.data)))
	return bytes.Count(b.data[:off], []byte("\n")) + 1
}

func (b *jsonBuilder) value() (*yaml.Node, error) {
	tok, err := b.dec.Token()
	if err != nil {
		return nil, err
	}
	return b.node(tok)
}

// inner reads a value inside an object or array, where the end of input is an error.
func (b *jsonBuilder) inner() (*yaml.Node, error) {
	n, err := b.value()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *jsonBuilder) node(tok json.Token) (*yaml.Node, error) {
	n := &yaml.Node{Line: b.line(b.dec.InputOffset())}
	switch t := tok.(type) {
	case json.Delim:
		b.depth++
		if b.depth > maxJSONDepth {
			return nil, fmt.Errorf("exceeded max depth of %d", maxJSONDepth)
		}
		defer func() { b.depth-- }()
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		} else {
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
		}
		for b.dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := b.inner()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, k)
			}
			v, err := b.inner()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := b.dec.Token(); err != nil { // the closing delimiter
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return n, nil
	case string:
		n.Tag, n.Value = "!!str", t
	case json.Number:
		n.Tag, n.Value = "!!float", t.String()
		if _, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			n.Tag = "!!int"
		}
	case bool:
		n.Tag, n.Value = "!!bool", strconv.FormatBool(t)
	case nil:
		n.Tag, n.Value = "!!null", "null"
	}
	n.Kind = yaml.ScalarNode
	return n, nil
}
