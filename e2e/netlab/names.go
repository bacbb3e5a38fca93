package netlab

import (
	"fmt"
	"strings"
)

// maxPrefix keeps namespace names short and readable.
const maxPrefix = 32

// validatePrefix accepts letters, digits, '_' and '.', which are safe in namespace names
// and unambiguous before the "-<i>" and "-hub" suffixes.
func validatePrefix(prefix string) error {
	if prefix == "" || len(prefix) > maxPrefix {
		return fmt.Errorf("netlab: prefix %q: want 1 to %d characters", prefix, maxPrefix)
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return fmt.Errorf("netlab: prefix %q: character %q, want letters, digits, '_' or '.'", prefix, r)
		}
	}
	return nil
}

// ownedBy reports whether namespace name belongs to a lab with this prefix: it is
// <prefix>-hub or <prefix>-<decimal>.
func ownedBy(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok || rest == "" {
		return false
	}
	if rest == "hub" {
		return true
	}
	return strings.Trim(rest, "0123456789") == ""
}

// listNamespaces returns the names of all named network namespaces.
func listNamespaces() ([]string, error) {
	out, err := run("", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		// A line is "name" or "name (id: 3)".
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// deleteNamespaces deletes every namespace that belongs to a lab with this prefix.
func deleteNamespaces(prefix string) error {
	names, err := listNamespaces()
	if err != nil {
		return fmt.Errorf("list namespaces: %w", err)
	}
	var del []string
	for _, name := range names {
		if ownedBy(prefix, name) {
			del = append(del, "netns del "+name)
		}
	}
	if err := ipBatch("", del); err != nil {
		return fmt.Errorf("delete namespaces: %w", err)
	}
	return nil
}
