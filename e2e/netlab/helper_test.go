package netlab

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// helperEnv selects the role a re-executed test binary plays inside a node.
const helperEnv = "NETLAB_HELPER"

// ioTimeout bounds every dial, read and write of the helpers: long enough on a healthy
// bridge by two orders of magnitude, short enough to keep cut checks quick.
const ioTimeout = 500 * time.Millisecond

// Exit codes of the helper roles.
const (
	exitOK      = 0
	exitFailed  = 1 // an error other than a timeout
	exitTimeout = 2 // a dial, read or write timed out
)

// TestHelperProcess is not a test: run by the tests inside a node with helperEnv set, it
// plays one role, whose arguments follow "--", and exits. Roles:
//
//	echo ADDR  serve TCP and UDP echo on ADDR; print "ready" once listening
//	tcp ADDR   dial ADDR, send a line, expect it back
//	udp ADDR   send a datagram to ADDR, expect it back
//	hold ADDR  dial ADDR, print "connected", then for each stdin line send it and print
//	           "ok" when it comes back or "err ..." when it does not
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		return
	}
	args := flag.Args()
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "helper %s: args %q, want one address\n", role, args)
		os.Exit(exitFailed)
	}
	var err error
	switch role {
	case "echo":
		err = serveEcho(args[0])
	case "tcp":
		err = pingTCP(args[0])
	case "udp":
		err = pingUDP(args[0])
	case "hold":
		err = hold(args[0], os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err == nil {
		os.Exit(exitOK)
	}
	fmt.Fprintf(os.Stderr, "helper %s %s: %v\n", role, args[0], err)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		os.Exit(exitTimeout)
	}
	os.Exit(exitFailed)
}

func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	fmt.Println("ready")
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func pingTCP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, "ping")
}

func pingUDP(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, "ping")
}

func hold(addr string, in io.Reader, out io.Writer) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(out, "connected")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if err := roundTrip(c, sc.Text()); err != nil {
			fmt.Fprintln(out, "err", err)
		} else {
			fmt.Fprintln(out, "ok")
		}
	}
	return sc.Err()
}

// roundTrip writes msg to c and reads it back, within ioTimeout.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// lines delivers the lines a helper prints, with a deadline on each wait.
type lines chan string

func readLines(r io.Reader) lines {
	ch := make(lines)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// next waits up to d for the next line.
func (ch lines) next(d time.Duration) (string, error) {
	select {
	case line, ok := <-ch:
		if !ok {
			return "", errors.New("helper closed its output")
		}
		return strings.TrimSpace(line), nil
	case <-time.After(d):
		return "", fmt.Errorf("no line from helper within %v", d)
	}
}
