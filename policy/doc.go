// Package policy turns what a developer brings to "atoll apply -f" into Atoll workloads:
// plain Kubernetes manifests together with Karmada's policy.karmada.io/v1alpha1
// PropagationPolicy, ClusterPropagationPolicy, OverridePolicy and ClusterOverridePolicy,
// unchanged. It also applies override rules when a site renders a workload for one
// cluster. It reads the files it is given and does nothing else: no network, clock,
// logger or goroutine (deps_test.go).
//
// # Load, Resolve, Apply
//
// Load reads files, directories (every *.yaml, *.yml and *.json below, sorted by path)
// and stdin into Objects, each remembering its file and line. YAML streams ("---"),
// JSON and "kind: List" are accepted. YAML is read as YAML 1.2 (go-yaml v3): yes, no,
// on and off are strings, where kubectl's YAML 1.1 would make them booleans. Malformed
// input is an error naming file and line.
//
// Resolve sorts the objects into policies and manifests. Each manifest becomes a
// Workload carrying what the apply's own policies give it: the placement of the policy
// that wins it (scheduler.Policy), the override rules of every policy that matches it,
// and its jurisdictions. Split also returns the policies, which atoll apply stores: a
// policy that matches no manifest of the apply is stored all the same (a note says so).
// Policy selection follows Karmada: a PropagationPolicy (in the manifest's namespace)
// over a ClusterPropagationPolicy, then the higher spec.priority, then the more precise
// resource selector (name, then labelSelector, then apiVersion and kind only), then the
// name first in alphabetical order.
//
// # Stored policies
//
// Sites place templates by the stored policies, not by what an apply resolved (stored.go):
// Decode reads a stored policy as strictly as an apply does, a Set holds the policies a
// site resolves with, and Set.Resolve gives one template (its Target: apiVersion, kind,
// namespace, name and labels) its placement and overrides with the precedence above. So
// a policy places the templates written after it, editing it re-places what it selects,
// and a template no policy selects is not placed.
//
// Apply applies a workload's rules to the object rendered for one cluster: the rules
// whose targetCluster selects the cluster, in order. A workload's rules come from every
// matching ClusterOverridePolicy, then every OverridePolicy, each group ordered as
// Karmada orders it (the less precise match first, so the more precise applies last,
// then by name); a policy's rules keep their order. Within a rule the overriders apply
// as in Karmada (image, command, args, labels, annotations), then Atoll's env, then
// plaintext.
//
// # Strictness
//
// Nothing is silently ignored. Policies are decoded strictly: an unknown field, a
// Karmada field Atoll does not implement, or a value of the wrong type is an error at
// the line of the field ("web.yaml:14: PropagationPolicy shop/web: spec.association: not
// supported by Atoll"). Values are validated as Karmada's webhook does, and more where
// Karmada would ignore what is written (a weightPreference with Duplicated, a
// staticWeightList beside dynamicWeight, a value with operator remove). All errors of
// an apply are returned together. Notes report what is skipped or has no effect: a
// Namespace (Atoll creates namespaces where workloads need them), a policy that never
// wins, a labelSelector beside a name (Karmada ignores it), a container overrider on a
// kind without containers or for a container the manifest lacks, an override that does
// not apply to the manifest as written.
//
// Implemented: resourceSelectors (apiVersion, kind, namespace, name, labelSelector),
// priority, propagateDeps (resolved with the placement; the site places the
// dependencies), and all of placement: clusterAffinity, clusterAffinities, clusterTolerations
// (tolerationSeconds included), spreadConstraints (spreadByField site, cluster, region,
// zone or provider, or spreadByLabel), replicaScheduling. Overrides: overrideRules and
// the older targetCluster with overriders; plaintext, imageOverrider, commandOverrider,
// argsOverrider, labelsOverrider, annotationsOverrider.
//
// conflictResolution Abort or Overwrite (resolved with the placement; the site adopts
// only where its admission allows).
//
// failover.application (decisionConditions.tolerationSeconds, purgeMode,
// gracePeriodSeconds), from format level FailoverLevel (docs/adr/0014).
//
// Refused: association, failover.cluster and failover.application.statePreservation, preemption,
// activationPreference, suspension, preserveResourcesOnDeletion, schedulerName,
// dependentOverrides, schedulePriority, fieldOverrider, and metadata.generateName,
// finalizers and ownerReferences. Where a refused field holds the value that leaves its
// feature off (schedulerName: default-scheduler, preemption:
// Never, the default Karmada's CRDs fill in), it is
// accepted, as are the read-only metadata an API server adds (uid, resourceVersion,
// generation, creationTimestamp, managedFields), so that a policy read back from
// Karmada applies unchanged.
//
// Karmada's defaults are made explicit in the resolved placement: without
// replicaScheduling Karmada duplicates (the zero scheduler.Policy, which only workloads an
// earlier release stored with their placement carry, divides); replicaSchedulingType defaults to Divided, Divided to Weighted; a spread
// constraint without field or label spreads by cluster with minGroups 1.
//
// # Atoll's extensions
//
// Annotations on a PropagationPolicy: atoll.io/bound ("EU,CH": the jurisdictions a
// workload may run in; also accepted on a manifest, and both must agree),
// atoll.io/takeover ("true" or "false") and atoll.io/max-surge ("3" or "50%"). Other
// atoll.io annotations are refused, to catch typos. The envOverrider sets, replaces or
// removes container environment variables by name. Spread constraints may group
// clusters by site.
//
// # Where Atoll differs from Karmada
//
// The image, command and args overriders also act on CronJobs. An image with both a
// tag and a digest keeps its digest where Karmada's parser drops it. An image override
// that would give an invalid image, or a tag that is neither tag nor digest, is an
// error where Karmada writes the invalid image or changes nothing. Two manifests with the same
// namespace and name are refused, since Atoll identifies a workload by them; so are
// cluster-scoped kinds (custom resources cannot be told apart without their CRD).
package policy
