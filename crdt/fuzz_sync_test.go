package crdt

import (
	"bytes"
	"testing"
)

// FuzzSyncStep: a hostile peer's sync messages never panic a session, and any message
// that decodes re-encodes to the same bytes.
func FuzzSyncStep(f *testing.F) {
	fx := newFed(f)
	a := fx.replica(f, "eu-west")
	mustWrite(f, a, fx.sites["eu-west"], set(KindSite, "eu-west", "version", "1"))
	_, hello := a.Initiate(fx.sites["us-east"].Public(), 3)
	f.Add(hello)
	f.Add([]byte{byte(msgSymbols), secSymbols, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 2})
	f.Add([]byte{byte(msgChanges) | 0x80, secChanges, 1, 3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, msg []byte) {
		// Sync messages need not be canonical (no id derives from them), but what the
		// encoder writes must decode back to itself.
		if m, err := decodeSyncMsg(msg); err == nil {
			enc := m.encode()
			m2, err := decodeSyncMsg(enc)
			if err != nil || !bytes.Equal(m2.encode(), enc) {
				t.Fatalf("re-encoding %x: %x does not round-trip (%v)", msg, enc, err)
			}
		}
		b := fx.replica(t, "us-east")
		before := b.Digest()
		resp := b.Respond(fx.sites["eu-west"].Public())
		if _, res, err := resp.Step(msg); err == nil || len(res.Stored) > 0 {
			return
		}
		if b.Digest() != before {
			t.Fatal("a failed sync step changed the state")
		}
		init, _ := b.Initiate(fx.sites["eu-west"].Public(), 5)
		init.Step(msg)
	})
}
