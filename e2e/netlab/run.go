package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// cmdTimeout bounds every ip or nft invocation; each one takes milliseconds when the
// kernel is healthy.
const cmdTimeout = 15 * time.Second

// run executes name with args, feeding it stdin, and returns its standard output. The
// error names the command and carries its standard error.
func run(stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", cmdTimeout, err)
	}
	line := name + " " + strings.Join(args, " ")
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return "", fmt.Errorf("%s: %w: %s", line, err, msg)
	}
	return "", fmt.Errorf("%s: %w", line, err)
}

// ipBatch runs the ip commands in lines (without the leading "ip") through one
// `ip -batch -` inside namespace ns. With ns "" they run in the caller's namespace, which
// the package does only for `netns add` and `netns del`: those name and unname
// namespaces and touch no interface, route or rule of the caller's.
func ipBatch(ns string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(strings.Join(lines, "\n")+"\n", "ip", args...)
	return err
}

// nft runs the nft script inside namespace ns.
func nft(ns, script string) error {
	_, err := run(script, "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}
