package store

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// writeFixture rewrites testdata/format1.db, the data file of the release before
// records were encrypted (format 1), from the code of that release:
//
//	go test ./site/store/ -run TestWriteFixture -args -fixture
//
// The file is committed; TestMigrateFixture opens it.
var writeFixture = flag.Bool("fixture", false, "rewrite testdata/format1.db (run on the format-1 release only)")

const (
	fixturePath    = "testdata/format1.db"
	fixtureChanges = 40 // records, the last three replaced by Put
	fixtureLogs    = 12 // Raft log entries, from index 1
	fixtureCanary  = "canary-secret-value-7f3a"
)

// fixtureRecord is record i of the fixture: every tenth holds the canary.
func fixtureRecord(i int) Record {
	if i%10 == 0 {
		return recData(i, fmt.Sprintf("change %d body %s", i, fixtureCanary))
	}
	return rec(i)
}

// fixturePut is the data Put gives record i, for the last three.
func fixturePut(i int) Record { return recData(i, fmt.Sprintf("sealed %d %s", i, fixtureCanary)) }

// fixtureLog is Raft log entry i of the fixture.
func fixtureLog(i uint64) *raft.Log {
	l := &raft.Log{Index: i, Term: 1 + i/5, Type: raft.LogCommand, Data: fmt.Appendf(nil, "J{\"kubeconfig\":\"token-%d %s\"}", i, fixtureCanary), AppendedAt: time.Unix(1700000000, int64(i))}
	if i == 1 {
		l.Type, l.Data, l.Extensions = raft.LogConfiguration, []byte{0, 1, 2}, []byte{9}
	}
	return l
}

// fixtureWant is what the fixture holds, in append order.
func fixtureWant() []Record {
	var want []Record
	for i := range fixtureChanges {
		r := fixtureRecord(i)
		if i >= fixtureChanges-3 {
			r = fixturePut(i)
		}
		want = append(want, r)
	}
	return want
}

func TestWriteFixture(t *testing.T) {
	if !*writeFixture {
		t.Skip("rewrites testdata/format1.db with -fixture")
	}
	path := filepath.Join(t.TempDir(), "format1.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < fixtureChanges; i += 8 {
		var batch []Record
		for j := i; j < min(i+8, fixtureChanges); j++ {
			batch = append(batch, fixtureRecord(j))
		}
		if err := s.Append(batch); err != nil {
			t.Fatal(err)
		}
	}
	for i := fixtureChanges - 3; i < fixtureChanges; i++ {
		if err := s.Put(fixturePut(i)); err != nil {
			t.Fatal(err)
		}
	}
	var logs []*raft.Log
	for i := uint64(1); i <= fixtureLogs; i++ {
		logs = append(logs, fixtureLog(i))
	}
	r := s.Raft()
	if err := r.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := r.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUnreplicated([][32]byte{fixtureRecord(1).ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAudit(map[string][]byte{"sent/x": []byte(`{"type":"sent"}`)}); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, loadAll(t, s), fixtureWant())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
