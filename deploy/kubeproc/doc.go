// Package kubeproc runs the Kubernetes control-plane daemons Atoll needs on loopback, as
// plain processes: etcd and kube-apiserver, with a PKI made with crypto/x509, kubeconfig
// and token files, and a small JSON client over net/http (the main module has no
// client-go). It holds what deploy/testenv (member clusters for tests and the demo) and
// deploy/fedapi (a site's federation API server, in production) share; it knows neither,
// and links into the release binary, so it holds nothing only tests need.
//
// # Processes
//
// Spawn runs a daemon in its own session (setsid), so a terminal's ^C does not reach it,
// with SIGKILL sent to it if the process that started it dies (Pdeathsig), its output
// appended to a log file and its PID written to a PID file. Process.Stop stops it through
// its PID (a pidfd, so a recycled PID is never hit): SIGTERM, then SIGKILL after 15 s.
// Process.Exited tells an exit that was asked for from one that was not, with the tail of
// the log.
//
// Etcd.Start and APIServer.Start spawn the daemon and wait until it is healthy (/health,
// /readyz), failing at once if it exits. Etcd runs fsync on unless Etcd.NoFsync, which is
// for throwaway test data. APIServer.Args are the flags every apiserver here has (serving
// certificate, client CA, token file, service account keys, all under Dir/pki with the
// file names of pki.go); APIServer.Extra adds the caller's (authorization, admission,
// front-proxy authentication).
//
// # PKI and files
//
// NewCA and LoadCA make or read an ECDSA P-256 CA, which issues serving and client
// certificates (a client certificate's organizations are the user's groups).
// WriteKubeconfig writes a token kubeconfig and ReadKubeconfig reads one back into a
// Client; WriteTokenFile writes an apiserver's --token-auth-file.
//
// # Binaries
//
// BinDir finds the binaries `make kube` (hack/kube/build.sh) builds into a cache
// directory keyed by the versions of bindir.go, or those of $ATOLL_KUBE_BIN.
//
// # Goroutines
//
// One per spawned process, which waits for it to exit and records how it ended; StopAll
// uses short-lived ones to stop processes in parallel.
package kubeproc
