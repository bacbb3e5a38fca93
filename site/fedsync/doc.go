// Package fedsync keeps a site's federation API server (deploy/fedapi: a real
// kube-apiserver with Karmada's policy CRDs) and the replicated state in step, both
// ways, so that kubectl, Helm and GitOps tools pointed at any site see and change the
// federation's templates and policies.
//
// # The rule
//
// One controller per site, level-based: informers on the synced kinds (kinds.go) and a
// signal from the state only queue objects; a worker syncs one object at a time with
// Decide, a pure function of three facts: the API server's copy (exists, its
// resourceVersion, and the atoll.io/change annotation a projection carries), the state's
// (exists, the change that wrote it last, whether this site holds its body) and what the
// controller last synced (the memo: the state's change and the API object's
// resourceVersion then). Whichever side moved since the last sync wins; when both did,
// the API server's edit is written after the state's change, so it is the later write
// and wins under the state's last-writer-wins, as it would have had it reached the state
// a moment earlier. Nothing loops: a projection is remembered with the
// resourceVersion it produced, and an edit equal to what the state holds writes nothing.
//
// Writes go through package apply and policy, exactly as atoll apply's: the API object,
// without what the API server set (status, uid, resourceVersion, managedFields, the
// annotation), is decoded strictly, and stored as the site API's operator (Store.Write,
// the site's own admission, quotas and residency checks). A write the site refuses
// becomes a Warning event on the object (kubectl describe shows it) and is not retried
// until the object changes.
//
// Bodies bound elsewhere are not projected, and a projection whose body a charter change
// took out of this site's reach is deleted, as the replica drops the body; a user's
// write of such an object is refused.
//
// # Goroutines
//
// Run starts the informers (client-go's own goroutines), one goroutine that queues
// every object when the state changes, and works the queue on its caller's goroutine
// until ctx is done.
package fedsync
