// Package member is a site's side of its member clusters: the registry of joined clusters
// (their kubeconfigs stay in the site's data dir and never enter the replicated state),
// and the observer that reads a cluster's health and capacity with client-go informers and
// turns them into the site's Cluster object fields.
//
// The arithmetic (capacity per node, the fields to publish) is in pure functions
// (capacity.go, extended.go, fields.go); observer.go does the I/O.
package kube
