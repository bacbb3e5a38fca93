package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/yaml"

	"atoll/deploy/kubeproc"
	sitemember "atoll/site/kube"
)

// admissionConfig is the apiserver's admission configuration: Pod Security enforced at
// baseline by default, as a production cluster would; kube-system is exempt.
const admissionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, warn: restricted, warn-version: latest}
    exemptions: {namespaces: [kube-system]}
`

// createAtollRBAC creates the objects of kube.RBAC with the admin token, so that the
// user atoll holds exactly what a site is given in production.
func (m *member) createAtollRBAC(ctx context.Context) error {
	for doc := range bytes.SplitSeq(sitemember.RBAC, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return fmt.Errorf("testenv: member RBAC: %w", err)
		}
		path, err := collectionPath(obj)
		if err != nil {
			return err
		}
		err = m.api.Do(ctx, http.MethodPost, path, obj, nil)
		if kubeproc.IsStatus(err, http.StatusConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("testenv: %s: member RBAC: %w", m.Name, err)
		}
	}
	return nil
}

// collectionPath is where an object of the member RBAC is created.
func collectionPath(obj map[string]any) (string, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	plural := strings.ToLower(kind) + "s"
	if strings.HasSuffix(plural, "ys") {
		plural = strings.TrimSuffix(plural, "ys") + "ies"
	}
	base := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		base = "/api/" + apiVersion
	}
	if kind == "" || apiVersion == "" {
		return "", fmt.Errorf("testenv: member RBAC: an object without apiVersion or kind")
	}
	if ns != "" {
		return base + "/namespaces/" + ns + "/" + plural, nil
	}
	return base + "/" + plural, nil
}
