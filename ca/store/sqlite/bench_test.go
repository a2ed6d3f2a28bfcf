package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
)

// BenchmarkIssue measures the storage half of one issuance, the transaction
// the CA runs per certificate: allocate a serial, store a 1.2 kB certificate,
// append its audit record (Streebog chain), commit. It compares the two
// SQLite drivers at synchronous FULL and NORMAL with 1, 4 and 16 goroutines
// issuing at once, one commit per issuance; README.md has the numbers. Run
// it with
//
//	go test -run '^$' -bench Issue -benchtime 1000x -count 3 ./ca/store/sqlite/
func BenchmarkIssue(b *testing.B) {
	drivers := []struct {
		name string
		d    driver
	}{{"mattn", defaultDriver}, {"modernc", moderncDriver}}
	for _, dr := range drivers {
		for _, sy := range []Sync{SyncFull, SyncNormal} {
			for _, conc := range []int{1, 4, 16} {
				b.Run(fmt.Sprintf("driver=%s/sync=%s/c=%d", dr.name, sy, conc), func(b *testing.B) {
					benchIssue(b, dr.d, Options{Sync: sy, MaxBatch: 1}, conc)
				})
			}
		}
	}
}

// BenchmarkIssueGroupCommit is BenchmarkIssue on the production setting:
// the default driver, synchronous=FULL, group commit.
func BenchmarkIssueGroupCommit(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) { benchIssue(b, defaultDriver, Options{}, conc) })
	}
}

func benchIssue(b *testing.B, d driver, o Options, conc int) {
	ctx := context.Background()
	// The temp dir is on the same file system as the CA's database would be
	// (no tmpfs here, or fsync would cost nothing).
	s, err := open(ctx, d, filepath.Join(b.TempDir(), "ca.db"), o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := audit.New(func() time.Time { return now }, nil)
	der := make([]byte, 1200)
	if _, err := rand.Read(der); err != nil {
		b.Fatal(err)
	}
	issue := func() error {
		return s.Tx(ctx, func(tx store.Tx) error {
			serial, err := tx.AllocateSerial(ctx, rand.Reader, now)
			if err != nil {
				return err
			}
			spki := sha256.Sum256(serial[:])
			c := store.Certificate{Serial: serial, Identity: store.Identity{Surname: "Иванов", GivenName: "Иван",
				SNILS: "11223344595", INN: "500100732259"}, SubjectDER: der[:150], NotBefore: now,
				NotAfter: now.AddDate(1, 0, 0), DER: der, SPKIHash: spki[:], IssuedAt: now}
			if err := tx.InsertCertificate(ctx, &c); err != nil {
				return err
			}
			_, err = j.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "cert.issue",
				Object: serial.String(), Details: map[string]string{"snils": c.Identity.SNILS}})
			return err
		})
	}
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for range conc {
		wg.Go(func() {
			for range work {
				if err := issue(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "issuances/s")
	// CPU per issuance is steadier than throughput on a shared machine and
	// is what the drivers differ in once fsync is not the bound.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
