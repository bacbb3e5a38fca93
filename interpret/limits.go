package interpret

import "time"

// Bounds of what a customization may be and cost.
const (
	// MaxCustomizationBytes bounds a customization's YAML or JSON.
	MaxCustomizationBytes = 256 << 10
	// MaxScriptBytes bounds one operation's Lua script.
	MaxScriptBytes = 64 << 10
	// CallTimeout bounds one call of a script, wall clock.
	CallTimeout = 250 * time.Millisecond
	// MaxCallAlloc bounds what the process allocates during one call.
	MaxCallAlloc = 64 << 20
	// MaxStringBytes bounds a string string.rep or string.format makes.
	MaxStringBytes = 1 << 20
	// MaxDepth bounds the nesting of a value passed to or returned by a script.
	MaxDepth = 64
	// MaxDependencies bounds what GetDependencies may name.
	MaxDependencies = 256
	// MaxReplicas bounds the replicas GetReplicas may return.
	MaxReplicas = 1<<31 - 1 // Kubernetes' replicas are an int32; the charter bounds them further
)
