package store

import (
	"fmt"
	"runtime/debug"
)

// bbolt trusts the pages it reads: on a corrupt file it panics with an
// assertion ("invalid page type", "pgid above high water mark", ...) or reads
// past the end of a truncated file through its memory map, which is a fault
// (SIGBUS or SIGSEGV) that kills the process unless the goroutine asked for a
// panic instead. guard asks for one and recovers it, so a damaged file is an
// error that names the path, never a crash.

// guard runs fn, which calls into bbolt, and turns a panic or memory fault
// into an error. After one, the Store is broken: bbolt may have left its
// locks held or its state half changed, so every later call fails at once.
//
// If caller is not nil, fn sets *caller while it runs the caller's code (a
// Load callback, a Backup writer): a panic then is the caller's bug, not the
// file's, and passes through unrecovered.
func (s *Store) guard(caller *bool, fn func() error) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errClosed
	case s.broken != nil:
		err := s.broken
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	err, panicked := recoverFrom(caller, fn)
	if panicked {
		s.mu.Lock()
		if s.broken == nil {
			s.broken = err
		}
		s.mu.Unlock()
	}
	return err
}

// guardOpen is guard for Open, before the Store is shared.
func (s *Store) guardOpen(fn func() error) error {
	err, panicked := recoverFrom(nil, fn)
	if panicked {
		s.broken = err
	}
	return err
}

// recoverFrom runs fn with faults turned into panics, and returns a recovered
// panic as an error, unless *caller is set when it happens.
func recoverFrom(caller *bool, fn func() error) (err error, panicked bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if caller != nil && *caller {
			return // not recovered: the panic goes on with its own stack
		}
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt file (bbolt panicked: %v)", p)
			panicked = true
		}
	}()
	return fn(), false
}
