package fedapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/deploy/crds"
)

// fieldManager owns the CRDs' fields under server-side apply.
const fieldManager = "atoll-fedapi"

const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"

// crdStatus is the part of a CustomResourceDefinition this package reads.
type crdStatus struct {
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// established reports whether the condition Established is True and, if not, why.
func (c *crdStatus) established() (bool, string) {
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Established" {
			return cond.Status == "True", cond.Reason + ": " + cond.Message
		}
	}
	return false, "no Established condition yet"
}

// installCRDs applies every CRD of package crds and waits until all are Established.
func (s *Server) installCRDs(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, crdTimeout,
			fmt.Errorf("fedapi: the CRDs were not Established within %v", crdTimeout))
		defer cancel()
	}
	c, err := readKubeconfig(s.kubeconfig)
	if err != nil {
		return err
	}
	defer c.close()

	var names []string
	for _, file := range crds.Files {
		y, err := crds.Read(file)
		if err != nil {
			return err
		}
		// The apiserver takes the YAML as it is; converting it first checks it is one
		// object and gives its name.
		body, err := yaml.YAMLToJSON(y)
		if err != nil {
			return fmt.Errorf("fedapi: CRD %s: %w", file, err)
		}
		var meta struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(body, &meta); err != nil || meta.Metadata.Name == "" {
			return fmt.Errorf("fedapi: CRD %s has no metadata.name (%v)", file, err)
		}
		q := url.Values{"fieldManager": {fieldManager}, "force": {"true"}}
		path := crdPath + meta.Metadata.Name + "?" + q.Encode()
		if err := c.send(ctx, http.MethodPatch, path, "application/apply-patch+yaml", body, nil); err != nil {
			return fmt.Errorf("fedapi: applying CRD %s: %w", file, err)
		}
		names = append(names, meta.Metadata.Name)
	}

	pending := names
	var last string
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		var still []string
		for _, n := range pending {
			var crd crdStatus
			if err := c.send(ctx, http.MethodGet, crdPath+n, "", nil, &crd); err != nil {
				last = err.Error()
				still = append(still, n)
				continue
			}
			if ok, why := crd.established(); !ok {
				last = n + ": " + why
				still = append(still, n)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fedapi: waiting for CRDs %s to be Established: %w (last: %s)",
				strings.Join(pending, ", "), context.Cause(ctx), last)
		case <-t.C:
		}
	}
}
