package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	mustLen(t, s, 0)
	mustEqual(t, loadAll(t, s), nil)

	want := recs(0, 10)
	want = append(want, Record{ID: [32]byte{1}}) // empty data loads as nil
	for _, batch := range [][]Record{want[:1], want[1:7], want[7:]} {
		if err := s.Append(batch); err != nil {
			t.Fatal(err)
		}
	}
	mustLen(t, s, len(want))
	mustEqual(t, loadAll(t, s), want)
}

func TestAppendOrder(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	// Ids in decreasing byte order: Load must follow append order, not ids.
	var want []Record
	for i := 0; i < 300; i++ {
		var r Record
		r.ID[0], r.ID[1] = byte(255-i/256), byte(255-i%256)
		r.Data = []byte{byte(i)}
		want = append(want, r)
		if err := s.Append([]Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	mustEqual(t, loadAll(t, s), want)
}

func TestAppendIdempotent(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	// A known id with other data, a new one, and the new one twice.
	again := []Record{recData(1, "other data"), rec(2), recData(2, "duplicate in batch")}
	if err := s.Append(again); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(nil); err != nil {
		t.Fatal(err)
	}
	mustLen(t, s, 3)
	mustEqual(t, loadAll(t, s), recs(0, 3))
}

func TestPutReplaces(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	sealed := recData(1, "sealed body, longer than the header it replaces")
	if err := s.Put(sealed); err != nil {
		t.Fatal(err)
	}
	want := []Record{rec(0), sealed, rec(2)}
	mustEqual(t, loadAll(t, s), want)

	err := s.Put(rec(7))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Put of an unknown id: got %v, want ErrNotFound", err)
	}
	mustEqual(t, loadAll(t, s), want)
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 50)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(recData(10, "replaced")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := recs(0, 50)
	want[10] = recData(10, "replaced")
	mustEqual(t, loadAll(t, s), want)

	// Appends after a reopen go after everything, and known ids stay known.
	if err := s.Append(recs(45, 60)); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, loadAll(t, s), append(want, recs(50, 60)...))
}

func TestLoadStopsAtFirstError(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 5)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var seen int
	err := s.Load(func(Record) error {
		seen++
		if seen == 2 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 2 {
		t.Fatalf("Load returned %v after %d records, want %v after 2", err, seen, stop)
	}
}

func TestLoadDataIsACopy(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 20)); err != nil {
		t.Fatal(err)
	}
	kept := loadAll(t, s)
	// Rewrite the pages the records came from, then drop the mapping.
	for i := 0; i < 20; i++ {
		if err := s.Put(recData(i, strings.Repeat("x", 500))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, kept, recs(0, 20))
}

func TestAppendDoesNotKeepCallerSlices(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	r := recData(0, "abc")
	if err := s.Append([]Record{r}); err != nil {
		t.Fatal(err)
	}
	copy(r.Data, "xyz")
	mustEqual(t, loadAll(t, s), []Record{recData(0, "abc")})
}

func TestClosed(t *testing.T) {
	s, path := openTemp(t, Options{Key: testKey})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, lenErr := s.Len()
	_, backupErr := s.Backup(nil)
	for name, err := range map[string]error{
		"Append": s.Append(recs(0, 1)),
		"Put":    s.Put(rec(0)),
		"Load":   s.Load(func(Record) error { return nil }),
		"Len":    lenErr,
		"Backup": backupErr,
	} {
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s after Close: got %v, want an error naming %s", name, err, path)
		}
	}
}

func TestLockedFile(t *testing.T) {
	_, path := openTemp(t, Options{Key: testKey})
	// The first Store holds the lock: a second Open gives up after Timeout.
	_, err := Open(path, Options{Key: testKey, Timeout: 20 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: got %v, want a timeout naming %s", err, path)
	}
	if _, err := Open(path, Options{Key: testKey, Timeout: -1}); err == nil {
		t.Fatal("negative timeout: no error")
	}
}

func TestConcurrentAppends(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey, NoSync: true})
	const writers, each = 4, 50
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if err := s.Append([]Record{rec(w*each + i)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := loadAll(t, s)
	// Each writer's records keep their relative order.
	for w := 0; w < writers; w++ {
		var mine []Record
		for _, r := range got {
			if slices.ContainsFunc(recs(w*each, (w+1)*each), func(x Record) bool { return x.ID == r.ID }) {
				mine = append(mine, r)
			}
		}
		mustEqual(t, mine, recs(w*each, (w+1)*each))
	}
}

// A panic in the caller's Load callback or Backup writer is the caller's:
// it passes through, and the Store stays usable.
func TestCallerPanicPassesThrough(t *testing.T) {
	s, _ := openTemp(t, Options{Key: testKey})
	if err := s.Append(recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(){
		"Load":   func() { _ = s.Load(func(Record) error { panic("caller bug") }) },
		"Backup": func() { _, _ = s.Backup(panicWriter{}) },
	} {
		func() {
			defer func() {
				if p := recover(); p != "caller bug" {
					t.Errorf("%s: recovered %v, want the caller's panic", name, p)
				}
			}()
			call()
		}()
	}
	mustEqual(t, loadAll(t, s), recs(0, 3))
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("caller bug") }
