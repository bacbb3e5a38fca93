package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"atoll/site/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "atoll-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The data key comes from the site's identity seed and its federation's
	// genesis id; records that can hold a body are sealed under it.
	seed, genesis := make([]byte, 32), [32]byte{0xaa}
	key, err := store.DeriveDataKey(seed, genesis)
	if err != nil {
		log.Fatal(err)
	}
	s, err := store.Open(filepath.Join(dir, "site.db"), store.Options{Key: key})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A change is appended after the changes it depends on.
	header := store.Record{ID: [32]byte{1}, Data: []byte("header")}
	child := store.Record{ID: [32]byte{2}, Data: []byte("depends on 01")}
	if err := s.Append([]store.Record{header, child}); err != nil {
		log.Fatal(err)
	}
	// Appending a known change again is harmless; its sealed body replaces it.
	if err := s.Append([]store.Record{header}); err != nil {
		log.Fatal(err)
	}
	if err := s.Put(store.Record{ID: [32]byte{1}, Data: []byte("sealed body")}); err != nil {
		log.Fatal(err)
	}

	err = s.Load(func(r store.Record) error {
		fmt.Printf("%x %s\n", r.ID[:1], r.Data)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 01 sealed body
	// 02 depends on 01
}
