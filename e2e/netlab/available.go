package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
)

// Available reports whether a lab can run here: root, ip and nft on PATH, and a probe
// namespace in which an nftables bridge table can be made. If not, the reason says what
// is missing. The probe runs once per process.
func Available() (bool, string) {
	reason := available()
	return reason == "", reason
}

var available = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return "netlab needs root (network namespaces and nftables)"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("netlab needs %s on PATH (hack/install-netlab.sh installs it): %v", tool, err)
		}
	}
	if err := probeLab("atollprobe" + strconv.Itoa(os.Getpid())); err != nil {
		return "netlab probe failed: " + err.Error()
	}
	return ""
})

// probeLab makes a namespace <prefix>-hub, loads the cut table into it and deletes it.
func probeLab(prefix string) error {
	if err := deleteNamespaces(prefix); err != nil {
		return err
	}
	ns := prefix + "-hub"
	if err := ipBatch("", []string{"netns add " + ns}); err != nil {
		return err
	}
	err := nft(ns, cutTable)
	if derr := deleteNamespaces(prefix); derr != nil && err == nil {
		err = derr
	}
	return err
}
