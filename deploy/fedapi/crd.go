package fedapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/deploy/crds"
	"atoll/deploy/kubeproc"
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

// installCRDs applies every CRD of package crds with c, an admin's client, and waits
// until all are Established.
func installCRDs(ctx context.Context, c *kubeproc.Client) error {
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
		if err := c.Send(ctx, http.MethodPatch, path, "application/apply-patch+yaml", body, nil); err != nil {
			return fmt.Errorf("fedapi: applying CRD %s: %w", file, err)
		}
		names = append(names, meta.Metadata.Name)
	}

	pending := names
	err := kubeproc.Poll(ctx, "the CRDs Established", 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var still, why []string
		for _, n := range pending {
			var crd crdStatus
			if err := c.Do(ctx, http.MethodGet, crdPath+n, nil, &crd); err != nil {
				still, why = append(still, n), append(why, err.Error())
				continue
			}
			if ok, reason := crd.established(); !ok {
				still, why = append(still, n), append(why, n+": "+reason)
			}
		}
		pending = still
		if len(pending) > 0 {
			return false, errors.New(strings.Join(why, "; "))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("fedapi: %w", err)
	}
	return nil
}
