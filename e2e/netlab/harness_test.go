package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// echoPort is where every node's echo helper listens.
const echoPort = 7000

// helperWait bounds how long a test waits for a helper to start or answer; a healthy
// helper takes milliseconds.
const helperWait = 10 * time.Second

// testPrefix is a prefix unique to this process and name, so parallel runs and earlier
// crashed runs never share a lab.
func testPrefix(name string) string {
	return "atl" + strconv.Itoa(os.Getpid()) + name
}

// newLab skips the test where no lab can run, else creates an n-node lab closed at the
// end of the test.
func newLab(t *testing.T, name string, n int) *Lab {
	t.Helper()
	if ok, reason := Available(); !ok {
		t.Skip(reason)
	}
	start := time.Now()
	l, err := Create(testPrefix(name), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create(%d nodes) took %v", n, time.Since(start))
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// helper returns the test binary re-executed inside node i in the given role. It is safe
// to call from any goroutine.
func helper(t *testing.T, l *Lab, i int, role string, to netip.AddrPort) *exec.Cmd {
	cmd := l.Command(t.Context(), i, os.Args[0], "-test.run=^TestHelperProcess$", "--", to.String())
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	return cmd
}

// startEcho starts the echo helper on every node and waits until each listens.
func startEcho(t *testing.T, l *Lab) {
	t.Helper()
	for i := range l.Len() {
		cmd := helper(t, l, i, "echo", netip.AddrPortFrom(l.Addr(i), echoPort))
		out := startHelper(t, cmd)
		if line, err := out.next(helperWait); err != nil || line != "ready" {
			t.Fatalf("echo on node %d: %q, %v", i, line, err)
		}
	}
}

// startHelper starts cmd with its stdout as lines, and stops it at the end of the test.
func startHelper(t *testing.T, cmd *exec.Cmd) lines {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%v stderr: %s", cmd.Args, stderr.String())
		}
	})
	return readLines(stdout)
}

// probe is one reachability check: a TCP dial or a UDP datagram from one node to
// another's echo helper, expected to succeed or to time out.
type probe struct {
	proto    string // "tcp" or "udp"
	from, to int
	reach    bool
}

func (p probe) String() string {
	verb := "blocked"
	if p.reach {
		verb = "reachable"
	}
	return fmt.Sprintf("%s %d->%d %s", p.proto, p.from, p.to, verb)
}

// check runs the probes concurrently; a blocked probe must end in a timeout, not in an
// error that a real partition would not produce.
func check(t *testing.T, l *Lab, probes ...probe) {
	t.Helper()
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() {
			cmd := helper(t, l, p.from, p.proto, netip.AddrPortFrom(l.Addr(p.to), echoPort))
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("%v: %v", p, err)
				return
			}
			switch {
			case p.reach && code != exitOK:
				t.Errorf("%v: exit %d: %s", p, code, out)
			case !p.reach && code != exitTimeout:
				t.Errorf("%v: exit %d, want %d (timeout): %s", p, code, exitTimeout, out)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// all returns a probe for both protocols between every ordered pair of distinct nodes,
// reachable unless blocked says otherwise.
func all(l *Lab, blocked func(from, to int) bool) []probe {
	var ps []probe
	for from := range l.Len() {
		for to := range l.Len() {
			if from == to {
				continue
			}
			for _, proto := range []string{"tcp", "udp"} {
				ps = append(ps, probe{proto, from, to, !blocked(from, to)})
			}
		}
	}
	return ps
}

func none(int, int) bool { return false }

// conn is a TCP connection held open by a hold helper in one node.
type conn struct {
	stdin io.Writer
	out   lines
}

func openConn(t *testing.T, l *Lab, from, to int) *conn {
	t.Helper()
	cmd := helper(t, l, from, "hold", netip.AddrPortFrom(l.Addr(to), echoPort))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{stdin: stdin, out: startHelper(t, cmd)}
	if line, err := c.out.next(helperWait); err != nil || line != "connected" {
		t.Fatalf("hold %d->%d: %q, %v", from, to, line, err)
	}
	return c
}

// echo sends msg over the connection and returns the helper's verdict: "ok" or
// "err <reason>".
func (c *conn) echo(t *testing.T, msg string) string {
	t.Helper()
	if _, err := io.WriteString(c.stdin, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := c.out.next(helperWait)
	if err != nil {
		t.Fatal(err)
	}
	return line
}
