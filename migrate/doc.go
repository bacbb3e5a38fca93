// Package migrate turns what a running Karmada control plane holds into what atoll apply
// takes, for `atoll import`: its four kinds of policies, and the resource templates they
// select, as the API server returns them. It is pure: the CLI lists the objects and
// applies the result.
//
// What it changes: cluster names in policies become Atoll's "<site>/<cluster>", by the
// mapping the caller gives (a name it does not map is an error naming it); what an API
// server or Karmada's controllers added to an object (status, uid, resourceVersion,
// managedFields, Karmada's labels and annotations, a Service's allocated IPs, a Job's
// generated selector) is dropped; and, to take over the objects Karmada created in the
// member clusters in place, every propagation policy says conflictResolution: Overwrite
// (the sites' admission.adopt still decides). Templates no policy selects are left out
// and reported, as are the API server's own objects.
package migrate
