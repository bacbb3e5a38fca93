// Package e2e runs federations of real `atoll site` processes on this machine, for the
// end-to-end tests (make e2e) and for `atoll e2e`: it writes keys, a genesis charter and
// one site.yaml per site, starts and kills processes, cuts links between them, and checks
// convergence through each site's local API.
//
// Links are cut in one of two ways. With the transport hook (the default) each site's own
// transport drops a peer's packets and refuses its streams (site.yaml faultInjection). With
// a netlab.Lab each site runs in its own network namespace and nftables drops the traffic,
// so the cut happens in a real network stack.
//
// Two variables help with the tests: ATOLL_E2E_KEEP keeps each test's directory (keys,
// configs, data files, logs), and ATOLL_E2E_RACE builds the sites under the race
// detector, which with GORACE=halt_on_error=1 ends a site, and so its test, at the first
// race:
//
//	ATOLL_E2E_RACE=1 GORACE=halt_on_error=1 go test -run 'TestSiteReplicas$' ./e2e/
package e2e
