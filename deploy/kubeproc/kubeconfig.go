package kubeproc

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// WriteKubeconfig writes a kubeconfig, mode 0600, with one cluster, one token user and
// one context, all current.
func WriteKubeconfig(path, cluster, server string, caPEM []byte, user, token string) error {
	cfg := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{
			"name":    cluster,
			"cluster": map[string]any{"server": server, "certificate-authority-data": caPEM},
		}},
		"users": []any{map[string]any{
			"name": user,
			"user": map[string]any{"token": token},
		}},
		"contexts": []any{map[string]any{
			"name":    cluster,
			"context": map[string]any{"cluster": cluster, "user": user},
		}},
		"current-context": cluster,
	}
	return WriteYAML(path, 0o600, cfg)
}

// ReadKubeconfig returns a client for the current context of a token kubeconfig (the kind
// WriteKubeconfig writes: a cluster with certificate-authority-data, a token user).
func ReadKubeconfig(path string) (*Client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeproc: %w", err)
	}
	var kc struct {
		CurrentContext string `json:"current-context"`
		Contexts       []struct {
			Name    string `json:"name"`
			Context struct {
				Cluster string `json:"cluster"`
				User    string `json:"user"`
			} `json:"context"`
		} `json:"contexts"`
		Clusters []struct {
			Name    string `json:"name"`
			Cluster struct {
				Server string `json:"server"`
				CAData []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			Name string `json:"name"`
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return nil, fmt.Errorf("kubeproc: kubeconfig %s: %w", path, err)
	}
	var server, token string
	var caPEM []byte
	for _, x := range kc.Contexts {
		if x.Name != kc.CurrentContext {
			continue
		}
		for _, cl := range kc.Clusters {
			if cl.Name == x.Context.Cluster {
				server, caPEM = cl.Cluster.Server, cl.Cluster.CAData
			}
		}
		for _, u := range kc.Users {
			if u.Name == x.Context.User {
				token = u.User.Token
			}
		}
	}
	if server == "" || token == "" || len(caPEM) == 0 {
		return nil, fmt.Errorf("kubeproc: kubeconfig %s: context %q lacks a server, a CA or a token", path, kc.CurrentContext)
	}
	c, err := NewClient(server, caPEM, token)
	if err != nil {
		return nil, fmt.Errorf("kubeproc: kubeconfig %s: %w", path, err)
	}
	return c, nil
}

// TokenUser is a line of an apiserver's --token-auth-file.
type TokenUser struct {
	Name   string
	Groups []string
	Token  string
}

// WriteTokenFile writes the apiserver's --token-auth-file, mode 0600: token,user,uid,"groups",
// the uids 1000, 1001, ... in order.
func WriteTokenFile(path string, users []TokenUser) error {
	var b strings.Builder
	for i, u := range users {
		fmt.Fprintf(&b, "%s,%s,%d,%q\n", u.Token, u.Name, 1000+i, strings.Join(u.Groups, ","))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// WriteYAML writes v as YAML with the permissions perm.
func WriteYAML(path string, perm os.FileMode, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, perm)
}
