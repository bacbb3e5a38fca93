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
// Processes stop in two ways. Kill and StopSite are the test's stops: the process stays
// down until StartSite. A process that ends otherwise (a crash, a fail-stop on a data file
// error, Crash, a signal sent with Signal or from outside) has exited by itself: Exited
// reports it. With Options.Supervise the harness restarts such a process as systemd or
// Kubernetes would, with the same binary and arguments, after a backoff that doubles with
// each restart in a row (100 ms up to 3 s by default) and at most Supervisor.Max times
// (default 5) per process; each exit, with its status, and each restart go to the test
// log, and Fed.Restarts(i) counts them. A StartSite, Kill or StopSite during a backoff
// wins: the pending restart is dropped. The replica tests (TestSiteReplicas,
// TestRollingUpgrade, TestReplicaStepsDown) run supervised; the others do not, so there
// an unexpected exit stays visible as one.
//
// Two variables help with the tests: ATOLL_E2E_KEEP keeps each test's directory (keys,
// configs, data files, logs), and ATOLL_E2E_RACE builds the sites under the race
// detector, which with GORACE=halt_on_error=1 ends a site, and so its test, at the first
// race:
//
//	ATOLL_E2E_RACE=1 GORACE=halt_on_error=1 go test -run 'TestSiteReplicas$' ./e2e/
package e2e
