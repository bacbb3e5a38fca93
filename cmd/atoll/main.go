// Command atoll is the one binary of Atoll: the site daemon, the client and the tools.
package main

import (
	"errors"
	"fmt"
	"os"

	"atoll/site"
)

// exitError is an error with its own exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	site.Version = version
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "atoll:", err)
		var e *exitError
		if errors.As(err, &e) {
			os.Exit(e.code)
		}
		os.Exit(1)
	}
}
