package testenv

import (
	"context"
	"net/http"

	"atoll/deploy/kubeproc"
)

// node is the part of a v1 Node this package reads.
type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (n *node) ready() bool {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// readyNodes returns the names of the Nodes whose Ready condition is True.
func readyNodes(ctx context.Context, c *kubeproc.Client) ([]string, error) {
	var list struct {
		Items []node `json:"items"`
	}
	if err := c.Do(ctx, http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range list.Items {
		if n.ready() {
			names = append(names, n.Metadata.Name)
		}
	}
	return names, nil
}
