package interpret

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/metrics"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// removed are the base library's functions a script may not call: they load code, reach
// the registry or the collector, or write to the process's output.
var removed = []string{"dofile", "load", "loadfile", "loadstring", "module", "require", "getfenv", "setfenv",
	"getmetatable", "setmetatable", "rawequal", "rawget", "rawset", "collectgarbage", "newproxy", "print", "_printregs"}

// errBudget is the cause of a call stopped by its allocation budget.
var errBudget = fmt.Errorf("the script allocated more than %d bytes", MaxCallAlloc)

// newState returns a sandboxed Lua state bound to ctx.
func newState(ctx context.Context) (*lua.LState, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 256, RegistrySize: 4096, RegistryMaxSize: 256 << 10})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			L.Close()
			return nil, err
		}
	}
	for _, name := range removed {
		L.SetGlobal(name, lua.LNil)
	}
	kube := openKube(L)
	L.SetGlobal("require", L.NewFunction(func(L *lua.LState) int {
		if name := L.CheckString(1); name != "kube" {
			L.RaiseError("require %q: only the library \"kube\" may be required", name)
		}
		L.Push(kube)
		return 1
	}))
	str := L.GetGlobal("string").(*lua.LTable)
	rep, format := str.RawGetString("rep"), str.RawGetString("format")
	str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		if n := int64(len(L.CheckString(1))) * int64(L.CheckInt(2)); n > MaxStringBytes {
			L.RaiseError("string.rep: %d bytes, above the limit of %d", n, MaxStringBytes)
		}
		return callThrough(L, rep)
	}))
	str.RawSetString("format", L.NewFunction(func(L *lua.LState) int {
		if w := widest(L.CheckString(1)); w > 1000 {
			L.RaiseError("string.format: a width or precision of %d, above the limit of 1000", w)
		}
		return callThrough(L, format)
	}))
	L.SetContext(ctx)
	return L, nil
}

// callThrough calls f with the arguments of the current call and returns its results.
func callThrough(L *lua.LState, f lua.LValue) int {
	n := L.GetTop()
	args := make([]lua.LValue, n)
	for i := range args {
		args[i] = L.Get(i + 1)
	}
	L.Push(f)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(n, lua.MultRet)
	return L.GetTop() - n
}

var formatNumbers = regexp.MustCompile(`%[-+ #0]*([0-9]*)(?:\.([0-9]*))?`)

// widest is the largest width or precision in a format string.
func widest(f string) int {
	w := 0
	for _, m := range formatNumbers.FindAllStringSubmatch(f, -1) {
		for _, s := range m[1:] {
			if len(s) > 6 {
				return 1 << 30
			}
			if n, _ := strconv.Atoi(s); n > w {
				w = n
			}
		}
	}
	return w
}

// call runs script in a fresh sandbox and calls its function fn with args (Lua values
// made by the sandbox's own state, through mk), returning nret results converted by
// the caller while the state is open.
func call(script, fn string, nret int, mk func(L *lua.LState) ([]lua.LValue, error), use func(L *lua.LState, rets []lua.LValue) error) error {
	tctx, cancel := context.WithTimeoutCause(context.Background(), CallTimeout, fmt.Errorf("the script ran over %v", CallTimeout))
	defer cancel()
	ctx, stopBudget := context.WithCancelCause(tctx)
	defer stopBudget(nil)
	stop := watch(ctx, stopBudget)
	defer stop()
	L, err := newState(ctx)
	if err != nil {
		return err
	}
	defer L.Close()
	err = guard(ctx, func() error {
		if err := L.DoString(script); err != nil {
			return err
		}
		f := L.GetGlobal(fn)
		if f.Type() != lua.LTFunction {
			return fmt.Errorf("the script defines no function %s", fn)
		}
		args, err := mk(L)
		if err != nil {
			return err
		}
		if err := L.CallByParam(lua.P{Fn: f, NRet: nret, Protect: true}, args...); err != nil {
			return err
		}
		rets := make([]lua.LValue, nret)
		for i := range rets {
			rets[i] = L.Get(-nret + i)
		}
		return use(L, rets)
	})
	return err
}

// define checks that running script defines the function fn.
func define(script, fn string) error {
	return call(script, fn, 0, func(*lua.LState) ([]lua.LValue, error) { return nil, errStop }, nil)
}

// errStop ends a call once the function is known to be there.
var errStop = errors.New("stop")

// guard runs f, turning a panic into an error and naming the cause of a stopped context.
func guard(ctx context.Context, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the script failed: %v", r)
		}
		if errors.Is(err, errStop) {
			err = nil
		} else if err != nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}()
	return f()
}

// watch cancels ctx with errBudget once the process has allocated MaxCallAlloc bytes
// since it was called; stop ends the watch.
func watch(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	start := sample[0].Value.Uint64()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				metrics.Read(s)
				if s[0].Value.Uint64()-start > MaxCallAlloc {
					cancel(errBudget)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
