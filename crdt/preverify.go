package crdt

// Checking signatures apart from a replica. A replica verifies every change it has not
// been told is good (Config.Verified); verifying reads nothing of the replica, so a
// caller may check a burst of changes on several cores before handing them over, and the
// replica then skips what checked out.

// CheckSignatures decodes raw and verifies its author's signature and every
// cosignature. It returns the change's id, which hashes the whole header, signatures
// included: an id that checked out names these exact bytes.
func CheckSignatures(raw []byte) (Hash, error) {
	env, err := DecodeEnvelope(raw)
	if err != nil {
		return Hash{}, err
	}
	if err := verifySignatures(env.Change, env.Header); err != nil {
		return env.ID, err
	}
	return env.ID, nil
}

// SyncChanges returns the change envelopes a sync message carries, as the message holds
// them, for checking before the session steps (Session.Step decodes the message again).
func SyncChanges(msg []byte) ([][]byte, error) {
	m, err := decodeSyncMsg(msg)
	if err != nil {
		return nil, err
	}
	return m.changes, nil
}
