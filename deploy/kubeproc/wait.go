package kubeproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// permanentError ends a Poll at once; any other error from a condition is retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that Poll returns it at once instead of retrying.
func Permanent(err error) error { return &permanentError{err} }

// Poll calls cond every interval until it returns true or a Permanent error, or ctx ends;
// on timeout the error names what was awaited and the condition's last error.
func Poll(ctx context.Context, what string, interval time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		done, err := cond(ctx)
		if done {
			return nil
		}
		if pe, ok := errors.AsType[*permanentError](err); ok {
			return pe.err
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("kubeproc: waiting for %s: %w (last: %v)", what, context.Cause(ctx), last)
			}
			return fmt.Errorf("kubeproc: waiting for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// WaitHealthy polls GET path (/readyz, /healthz, /health) of c until it answers 200,
// failing at once if p exits.
func WaitHealthy(ctx context.Context, p *Process, c *Client, path string) error {
	return Poll(ctx, p.Name()+" "+path, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		if gone, err := p.Exited(); gone {
			if err == nil {
				err = fmt.Errorf("kubeproc: %s was stopped", p.Name())
			}
			return false, Permanent(err)
		}
		err := c.OK(ctx, path)
		return err == nil, err
	})
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. Another process may take one
// before the caller binds it.
func FreePorts(n int) ([]int, error) { return PickPorts(make([]int, n)) }

// PickPorts returns distinct free TCP ports on 127.0.0.1, one for each of prefer: the
// preferred port if it is free, else (or for 0) any free one. It holds every port until
// all are picked, so that no two are the same.
func PickPorts(prefer []int) ([]int, error) {
	ports := make([]int, len(prefer))
	for i, p := range prefer {
		if p == 0 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // taken: any free one below
		}
		defer ln.Close()
		ports[i] = p
	}
	for i := range ports {
		if ports[i] != 0 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kubeproc: picking a free port: %w", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
