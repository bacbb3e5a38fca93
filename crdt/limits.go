package crdt

// Limits of the format. They are part of validity, so every replica must use the same
// values: they are constants of the format version, not configuration.
const (
	formatVersion = 1

	MaxHeaderBytes   = 256 << 10 // one change header, signatures included
	MaxBodyBytes     = 1 << 20   // one sealed body
	MaxEnvelopeBytes = 8 << 20   // a header with all its bodies
	MaxDeps          = 64        // hashes a change depends on
	MaxOps           = 4096      // operations in one change
	MaxCosigs        = 32        // extra admin signatures
	MaxBound         = 16        // jurisdictions in a bound
	MaxNameBytes     = 253       // an object key or a field name
	MaxValueBytes    = 128 << 10 // one unsealed value
	MaxJurisdiction  = 63        // one jurisdiction name
)
