package testenv

import (
	_ "embed"
	"os"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	"atoll/deploy/kubeproc"
)

// kwokStages are kwok's fast node and pod stages and its lease heartbeat, from kwok v0.8.0.
//
//go:embed kwok-stages.yaml
var kwokStages []byte

// Identity of the fake Nodes: kwok manages the Nodes carrying this annotation and no others.
const (
	fakeNodeAnnotation = "kwok.x-k8s.io/node"
	fakeNodeValue      = "fake"
	fakeNodeSelector   = fakeNodeAnnotation + "=" + fakeNodeValue
)

// Address ranges inside each cluster; clusters are separate, so they can all use the same.
const (
	serviceCIDR = "10.0.0.0/24" // --service-cluster-ip-range; 10.0.0.1 is the kubernetes Service
	podCIDR     = "10.1.0.0/16" // kwok's pod IPs
	fakeNodeIP  = "10.2.0.1"    // kwok's node InternalIP
)

// clientQPS and clientBurst bound the requests per second of the controller manager and
// the scheduler to their apiserver (their defaults are 20 and 30, and 50 and 100).
const (
	clientQPS   = 200
	clientBurst = 400
)

// certValidity is how long the certificates of a test cluster are valid.
const certValidity = 365 * 24 * time.Hour

// nodeLeaseSeconds is the duration of the node Leases kwok renews, the fake kubelets'
// heartbeat: with it the node lifecycle controller keeps the Nodes Ready.
const nodeLeaseSeconds = 40

// writeSchedulerConfig writes a KubeSchedulerConfiguration without leader election.
func writeSchedulerConfig(path, kubeconfig string) error {
	return kubeproc.WriteYAML(path, 0o644, map[string]any{
		"apiVersion":       "kubescheduler.config.k8s.io/v1",
		"kind":             "KubeSchedulerConfiguration",
		"clientConnection": map[string]any{"kubeconfig": kubeconfig, "qps": clientQPS, "burst": clientBurst},
		"leaderElection":   map[string]any{"leaderElect": false},
	})
}

// writeKwokConfig writes a KwokConfiguration followed by the stages. kwok v0.8.0 does not
// default the fields of a configuration it is given, so every option is set here (the
// values are kwok's own defaults unless said otherwise).
func writeKwokConfig(path string, port int, certFile, keyFile string) error {
	cfg := map[string]any{
		"apiVersion": "config.kwok.x-k8s.io/v1alpha1",
		"kind":       "KwokConfiguration",
		"metadata":   map[string]any{"name": "atoll-testenv"},
		"options": map[string]any{
			"enableCRDs":                            []string{}, // stages come from this file, not from CRDs
			"cidr":                                  podCIDR,
			"nodeIP":                                fakeNodeIP,
			"nodeName":                              "", // empty: no Hostname address
			"nodePort":                              port,
			"tlsCertFile":                           certFile,
			"tlsPrivateKeyFile":                     keyFile,
			"manageSingleNode":                      "",
			"manageAllNodes":                        false,
			"manageNodesWithAnnotationSelector":     fakeNodeSelector,
			"manageNodesWithLabelSelector":          "",
			"disregardStatusWithAnnotationSelector": "",
			"disregardStatusWithLabelSelector":      "",
			"serverAddress":                         "127.0.0.1:" + strconv.Itoa(port),
			"enableDebuggingHandlers":               false, // no exec, logs or port-forward to fake pods
			"enableContentionProfiling":             false,
			"enableProfilingHandler":                false,
			"podPlayStageParallelism":               4,
			"nodePlayStageParallelism":              4,
			"nodeLeaseDurationSeconds":              nodeLeaseSeconds, // kwok: 0, no leases
			"nodeLeaseParallelism":                  4,
			"podsOnNodeSyncParallelism":             1,
			"enablePodsOnNodeSyncListPager":         true,
			"enablePodsOnNodeSyncStreamWatch":       false,
		},
		"tracing": map[string]any{},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	b = append(b, "---\n"...)
	b = append(b, kwokStages...)
	return os.WriteFile(path, b, 0o644)
}
