package sqlite

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
)

const crashEnv = "GOSTKEY_STORE_CRASH_DB"

// TestCrashChild is the process TestSIGKILLLosesNothing kills: it issues
// certificates in a loop with 4 writers and prints each serial once its
// transaction has committed. Without the environment variable it does
// nothing.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		return
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := audit.New(func() time.Time { return now }, nil)
	out := make(chan string)
	for range 4 {
		go func() {
			for {
				var serial store.Serial
				err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					serial, err = tx.AllocateSerial(ctx, rand.Reader, now)
					if err != nil {
						return err
					}
					spki := sha256.Sum256(serial[:])
					c := store.Certificate{Serial: serial, Identity: store.Identity{Surname: "S", GivenName: "G", SNILS: "1", INN: "2"},
						SubjectDER: []byte{0x30, 0}, NotBefore: now, NotAfter: now.AddDate(1, 0, 0), DER: make([]byte, 1000),
						SPKIHash: spki[:], IssuedAt: now}
					if err := tx.InsertCertificate(ctx, &c); err != nil {
						return err
					}
					_, err = j.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "cert.issue", Object: hex.EncodeToString(serial[:])})
					return err
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "issue:", err)
					os.Exit(3)
				}
				out <- hex.EncodeToString(serial[:])
			}
		}()
	}
	for line := range out {
		// One write per line, straight to the pipe: the parent has the
		// serial only after its commit returned.
		if _, err := os.Stdout.WriteString(line + "\n"); err != nil {
			os.Exit(4)
		}
	}
}

// SIGKILL in the middle of a burst of issuance loses no committed
// certificate and no audit record: everything the child reported is there
// after reopening, the journal verifies, and it has exactly one record per
// certificate.
func TestSIGKILLLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		reported = append(reported, sc.Text())
		if len(reported) == 300 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	// Drain what was written before the kill landed.
	for sc.Scan() {
		reported = append(reported, sc.Text())
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL (got %d serials)", err, len(reported))
	}

	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored int
	if err := s.View(ctx, func(r store.Reader) error {
		for _, h := range reported {
			var serial store.Serial
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != len(serial) {
				return fmt.Errorf("child printed %q", h)
			}
			copy(serial[:], b)
			if _, err := r.Certificate(ctx, serial); err != nil {
				return fmt.Errorf("reported certificate %s: %w", h, err)
			}
		}
		var after *store.Cursor
		for {
			page, err := r.ListCertificates(ctx, store.CertificateFilter{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			stored += len(page)
			if len(page) < 1000 {
				return nil
			}
			c := page[len(page)-1].Cursor()
			after = &c
		}
	}); err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("audit after SIGKILL: %v", err)
	}
	if res.Records != uint64(stored) {
		t.Fatalf("%d audit records for %d certificates", res.Records, stored)
	}
	if stored < len(reported) {
		t.Fatalf("%d certificates stored, %d reported", stored, len(reported))
	}
}
