package store

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testdata/format1.db is a data file of the last release that stored records in
// clear (format 1), written by that release's code with
//
//	go test ./site/store/ -run TestWriteFixture -args -fixture
//
// and committed; TestMigrateFixture and TestMigrateInterrupted open copies of it.
// The helpers below say what it holds.
var writeFixture = flag.Bool("fixture", false, "rewrite testdata/format1.db (the format-1 release only)")

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
	t.Fatal("testdata/format1.db is a file of the format-1 release, written by its TestWriteFixture " +
		"(git show 3ad04cf:site/store/fixture_test.go); this release writes format 2 only")
}
