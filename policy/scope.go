package policy

// clusterScoped lists the built-in cluster-scoped kinds, as "Kind.group" ("Kind" for the
// core group). Their manifests are cluster-scoped templates (workload key "/<name>",
// format level 3, an operator granted cluster scope, a ClusterPropagationPolicy to
// place them). A cluster-scoped custom resource is recognised from its CRD in the same
// apply (clusterScopedCRs); without it, it is treated as namespaced, and a member
// cluster that knows better refuses it.
var clusterScoped = map[string]bool{
	"Namespace":        true,
	"Node":             true,
	"PersistentVolume": true,
	"ComponentStatus":  true,

	"ClusterRole.rbac.authorization.k8s.io":                         true,
	"ClusterRoleBinding.rbac.authorization.k8s.io":                  true,
	"CustomResourceDefinition.apiextensions.k8s.io":                 true,
	"APIService.apiregistration.k8s.io":                             true,
	"MutatingWebhookConfiguration.admissionregistration.k8s.io":     true,
	"ValidatingWebhookConfiguration.admissionregistration.k8s.io":   true,
	"ValidatingAdmissionPolicy.admissionregistration.k8s.io":        true,
	"ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io": true,
	"MutatingAdmissionPolicy.admissionregistration.k8s.io":          true,
	"MutatingAdmissionPolicyBinding.admissionregistration.k8s.io":   true,
	"StorageClass.storage.k8s.io":                                   true,
	"CSIDriver.storage.k8s.io":                                      true,
	"CSINode.storage.k8s.io":                                        true,
	"VolumeAttachment.storage.k8s.io":                               true,
	"VolumeAttributesClass.storage.k8s.io":                          true,
	"PriorityClass.scheduling.k8s.io":                               true,
	"RuntimeClass.node.k8s.io":                                      true,
	"IngressClass.networking.k8s.io":                                true,
	"IPAddress.networking.k8s.io":                                   true,
	"ServiceCIDR.networking.k8s.io":                                 true,
	"FlowSchema.flowcontrol.apiserver.k8s.io":                       true,
	"PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io":       true,
	"CertificateSigningRequest.certificates.k8s.io":                 true,
	"ClusterTrustBundle.certificates.k8s.io":                        true,
	"DeviceClass.resource.k8s.io":                                   true,
	"ResourceSlice.resource.k8s.io":                                 true,
	"DeviceTaintRule.resource.k8s.io":                               true,
	"StorageVersionMigration.storagemigration.k8s.io":               true,
	"StorageVersion.internal.apiserver.k8s.io":                      true,
	"TokenReview.authentication.k8s.io":                             true,
	"SelfSubjectReview.authentication.k8s.io":                       true,
	"SubjectAccessReview.authorization.k8s.io":                      true,
	"SelfSubjectAccessReview.authorization.k8s.io":                  true,
	"SelfSubjectRulesReview.authorization.k8s.io":                   true,
}

// isClusterScoped reports whether a kind of an apiVersion is a built-in cluster-scoped one.
func isClusterScoped(apiVersion, kind string) bool {
	key := kind
	if g := groupOf(apiVersion); g != "" {
		key += "." + g
	}
	return clusterScoped[key]
}

// clusterScopedCRs returns the custom kinds ("Kind.group") that a CustomResourceDefinition
// among objs declares with scope: Cluster.
func clusterScopedCRs(objs []Object) map[string]bool {
	out := map[string]bool{}
	for i := range objs {
		m := objs[i].Map
		if m["apiVersion"] != "apiextensions.k8s.io/v1" || m["kind"] != "CustomResourceDefinition" {
			continue
		}
		spec, _ := m["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		kind, _ := names["kind"].(string)
		group, _ := spec["group"].(string)
		if spec["scope"] == "Cluster" && kind != "" && group != "" {
			out[kind+"."+group] = true
		}
	}
	return out
}

// selectsNamespaces reports whether a ClusterPropagationPolicy among objs selects
// Namespaces (a resourceSelector of apiVersion v1, kind Namespace): only then are the
// apply's Namespaces templates; otherwise they are skipped, as sites create the
// namespaces workloads need.
func selectsNamespaces(objs []Object) bool {
	for i := range objs {
		m := objs[i].Map
		if m["apiVersion"] != karmadaAPIVersion || m["kind"] != kindClusterPropagationPolicy {
			continue
		}
		spec, _ := m["spec"].(map[string]any)
		sels, _ := spec["resourceSelectors"].([]any)
		for _, s := range sels {
			sel, _ := s.(map[string]any)
			if sel["apiVersion"] == "v1" && sel["kind"] == "Namespace" {
				return true
			}
		}
	}
	return false
}
