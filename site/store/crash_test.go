package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test runs the test binary itself as a writer process
// (TestHelperWriter) and kills it with SIGKILL while it appends.
const (
	envCrashPath = "ATOLL_STORE_CRASH_PATH" // set: this process is the writer
	envCrashSeed = "ATOLL_STORE_CRASH_SEED" // the writer's seed
	envSeed      = "ATOLL_STORE_SEED"       // replays TestCrashKill
	ackPrefix    = "ack "
)

// crashRecord is record number n of the writer: its id is the hash of n and
// its data is n followed by filler bytes that depend on n, so a reader can
// tell a whole record from a torn one whatever the filler length.
func crashRecord(n uint64, fill int) Record {
	data := binary.BigEndian.AppendUint64(make([]byte, 0, 8+fill), n)
	for i := 0; i < fill; i++ {
		data = append(data, byte(n)+byte(i))
	}
	return Record{ID: sha256.Sum256(data[:8]), Data: data}
}

// checkCrashRecord reports whether r is a whole crashRecord, and its number.
func checkCrashRecord(r Record) (uint64, error) {
	if len(r.Data) < 8 {
		return 0, fmt.Errorf("record %x: %d bytes of data", r.ID[:4], len(r.Data))
	}
	n := binary.BigEndian.Uint64(r.Data)
	if want := crashRecord(n, len(r.Data)-8); r.ID != want.ID || !bytes.Equal(r.Data, want.Data) {
		return n, fmt.Errorf("record %d is torn", n)
	}
	return n, nil
}

// TestHelperWriter is the writer process of TestCrashKill; run alone it
// skips. It appends batches of 1 to 32 records, now and then replaces an
// earlier one with Put, and prints each appended id only after Append has
// returned nil. It runs until it is killed.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(envCrashPath)
	if path == "" {
		t.Skip("the writer process of TestCrashKill")
	}
	if err := writeUntilKilled(path, os.Getenv(envCrashSeed)); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(2)
	}
}

func writeUntilKilled(path, seedText string) error {
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		return err
	}
	n, err := s.Len()
	if err != nil {
		return err
	}
	next := uint64(n) // records are numbered 0.. in append order
	var out []byte
	for next < 1<<20 { // a bound in case the parent never kills us
		batch := make([]Record, 1+rng.IntN(32))
		for i := range batch {
			batch[i] = crashRecord(next+uint64(i), rng.IntN(300))
		}
		if err := s.Append(batch); err != nil {
			return err
		}
		next += uint64(len(batch))
		out = out[:0]
		for _, r := range batch {
			out = append(append(append(out, ackPrefix...), hex.EncodeToString(r.ID[:])...), '\n')
		}
		if _, err := os.Stdout.Write(out); err != nil {
			return err
		}
		if rng.IntN(4) == 0 {
			if err := s.Put(crashRecord(rng.Uint64N(next), rng.IntN(600))); err != nil {
				return err
			}
		}
	}
	return s.Close()
}

// TestCrashKill kills a writer process with SIGKILL at a random point, after
// at least 200 acknowledgements, several times over the same file, and checks
// after each kill that every acknowledged record is stored, whole, in order.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts writer processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", envSeed, err)
		}
	}
	t.Logf("seed %d (replay the kill points with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "site.db")
	acked := map[[32]byte]bool{}
	for round := 0; round < 5; round++ {
		killAfter := 200 + rng.IntN(200)
		n, err := runAndKill(ctx, path, rng.Uint64(), killAfter, acked)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stored, err := checkCrashStore(path, acked)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: killed after %d acks (target %d); %d acked in all, %d stored", round, n, killAfter, len(acked), stored)
	}
}

// runAndKill starts a writer on path, reads its acknowledgements into acked,
// kills it with SIGKILL once it has seen killAfter of them, and reads the
// rest of what the writer printed before it died. It returns the number of
// acknowledgements this writer made.
func runAndKill(ctx context.Context, path string, seed uint64, killAfter int, acked map[[32]byte]bool) (int, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashPath+"="+path, envCrashSeed+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	// Reads end at EOF: when the writer dies, or when ctx expires and
	// CommandContext kills it.
	r := bufio.NewReader(stdout)
	n, killed := 0, false
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // a partial last line is not an acknowledgement
		}
		if err != nil {
			return n, err
		}
		hexID, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), ackPrefix)
		if !ok {
			continue // test framework output
		}
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(hexID)); err != nil {
			return n, fmt.Errorf("bad ack line %q: %v", line, err)
		}
		acked[id] = true
		n++
		if n >= killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				return n, err
			}
			killed = true
		}
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return n, fmt.Errorf("writer not done after %d acks: %w; stderr:\n%s", n, ctx.Err(), stderr.Bytes())
	case !killed:
		return n, fmt.Errorf("writer exited after %d acks: %v; stderr:\n%s", n, err, stderr.Bytes())
	}
	return n, nil
}

// checkCrashStore opens the store at path after a kill and checks that it
// loads, that its records are whole and numbered 0, 1, 2... in order, and
// that every acknowledged id is among them. It returns the record count.
func checkCrashStore(path string, acked map[[32]byte]bool) (int, error) {
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	stored := map[[32]byte]bool{}
	err = s.Load(func(r Record) error {
		n, err := checkCrashRecord(r)
		if err != nil {
			return err
		}
		if n != uint64(len(stored)) {
			return fmt.Errorf("record %d loaded in place %d", n, len(stored))
		}
		stored[r.ID] = true
		return nil
	})
	if err != nil {
		return 0, err
	}
	for id := range acked {
		if !stored[id] {
			return 0, fmt.Errorf("acknowledged id %x lost (%d stored, %d acked)", id[:8], len(stored), len(acked))
		}
	}
	return len(stored), nil
}
