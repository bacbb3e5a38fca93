// Package interpret runs resource-interpreter customizations in Karmada's format
// (config.karmada.io/v1alpha1 ResourceInterpreterCustomization): per kind, Lua scripts
// that say how to read and set a custom resource's replicas, reflect and aggregate its
// status, judge its health, retain what a member cluster changed, and name its
// dependencies. A customization arrives in a signed change, so its scripts are hostile
// input: they run in a sandbox with no I/O, no loading of code, a deadline and an
// allocation budget per call, and every result is checked before anything uses it (an
// object keeps its apiVersion, kind, namespace and name; numbers are in range).
//
// It is a pure core: no I/O, no goroutine outliving a call (a call's watchdog ends with
// it). Decode reads a customization as strictly as package policy reads policies, and
// names the field of any error.
//
// # The sandbox
//
// Each call runs in a fresh Lua state with the base, table, string and math libraries,
// without the functions that load code or reach outside (dofile, load, loadfile,
// loadstring, module, require other than "kube", getfenv, setfenv, getmetatable,
// setmetatable, rawequal, rawget, rawset, collectgarbage, newproxy, print); string.rep
// and string.format are bounded. A call ends with an error after CallTimeout, or once
// the process has allocated MaxCallAlloc bytes since it began (the Go runtime's counter:
// approximate, and on the side of stopping early under load). The library "kube" offers
// what Karmada's does: accuratePodRequirements, getPodDependencies, resourceAdd and
// getResourceQuantity.
//
// # Determinism
//
// A site's scheduling must agree with every other site's, so whatever feeds it must not
// depend on a deadline: the replicas and requirements of a custom resource
// (GetReplicas) are interpreted where the template is written and stored with it; the
// other operations act on one site's own clusters only.
package interpret
