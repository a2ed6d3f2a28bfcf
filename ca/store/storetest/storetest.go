// Package storetest is the behaviour suite every store.Store implementation
// runs: one table of cases, run once per back end through a factory (SQLite
// in ca/store/sqlite; PostgreSQL adds its own factory).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
)

// Factory returns a fresh, empty, migrated store; the suite closes it.
type Factory func(t *testing.T) store.Store

// Case is one behaviour.
type Case struct {
	Name string
	Run  func(t *testing.T, s store.Store)
}

// Cases is the suite.
var Cases = []Case{
	{"OrderLifecycle", testOrderLifecycle},
	{"RedeemOutcomes", testRedeemOutcomes},
	{"FailuresLockOrder", testFailuresLockOrder},
	{"ExpireOrders", testExpireOrders},
	{"RollbackOnError", testRollback},
	{"CertificateInsert", testCertificateInsert},
	{"SerialCollisionRetry", testSerialCollision},
	{"RevokeHoldRelease", testRevokeHoldRelease},
	{"Supersede", testSupersede},
	{"ListCertificates", testListCertificates},
	{"CertificatesByOrder", testCertificatesByOrder},
	{"RevocationCodes", testRevocationCodes},
	{"OperatorsAndTokens", testOperatorsAndTokens},
	{"CRLNumbers", testCRLNumbers},
	{"SingleUseProofs", testProofs},
	{"Leases", testLeases},
	{"AuditChain", testAuditChain},
	{"ConcurrentRedemption", testConcurrentRedemption},
	{"ConcurrentAudit", testConcurrentAudit},
	{"ConcurrentIssuance", testConcurrentIssuance},
	{"ConcurrentCRLNumbers", testConcurrentCRLNumbers},
}

// Run runs every case on a fresh store from newStore.
func Run(t *testing.T, newStore Factory) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.Run(t, s)
		})
	}
}

// t0 is the suite's clock origin; times are microsecond-exact so values read
// back compare equal.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)

func tx(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Tx(context.Background(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Reader) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

var ident = store.Identity{Surname: "Иванов", GivenName: "Иван", Patronymic: "Иванович",
	SNILS: "11223344595", INN: "500100732259", Email: "ivanov@example.ru"}

func newOrder(t *testing.T, s store.Store, expires time.Time) store.Order {
	t.Helper()
	o := store.Order{Identity: ident, CodeHash: randBytes(32), CreatedBy: "op1", CreatedAt: t0, ExpiresAt: expires}
	tx(t, s, func(tx store.Tx) error { return tx.CreateOrder(context.Background(), &o) })
	return o
}

func testOrderLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(15*time.Minute))
	if o.ID == "" || o.Status != store.OrderPending {
		t.Fatalf("created order %+v", o)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.Order(ctx, o.ID)
		if err != nil {
			return err
		}
		if got.Identity != ident || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(15*time.Minute)) ||
			!bytes.Equal(got.CodeHash, o.CodeHash) || got.Status != store.OrderPending || got.CreatedBy != "op1" {
			t.Errorf("read back %+v, wrote %+v", got, o)
		}
		if got, err := r.OrderByCodeHash(ctx, o.CodeHash); err != nil || got.ID != o.ID {
			t.Errorf("OrderByCodeHash = %v, %v", got.ID, err)
		}
		if _, err := r.Order(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Order(nope) = %v, want ErrNotFound", err)
		}
		return nil
	})
	dup := store.Order{Identity: ident, CodeHash: o.CodeHash, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateOrder(ctx, &dup) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate code hash: %v, want ErrConflict", err)
	}
	for name, bad := range map[string]store.Order{
		"no code hash": {Identity: ident, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)},
		"no validity":  {Identity: ident, CodeHash: randBytes(32), CreatedAt: t0, ExpiresAt: t0},
	} {
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateOrder(ctx, &bad) }); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	o2 := newOrder(t, s, t0.Add(time.Minute))
	tx(t, s, func(tx store.Tx) error { return tx.CancelOrder(ctx, o2.ID, t0.Add(time.Second)) })
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CancelOrder(ctx, o2.ID, t0) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancelling twice: %v, want ErrConflict", err)
	}
	view(t, s, func(r store.Reader) error {
		pending, err := r.ListOrders(ctx, store.OrderFilter{Status: store.OrderPending})
		if err != nil {
			return err
		}
		if len(pending) != 1 || pending[0].ID != o.ID {
			t.Errorf("pending orders %v", pending)
		}
		all, err := r.ListOrders(ctx, store.OrderFilter{SNILS: ident.SNILS})
		if err != nil {
			return err
		}
		if len(all) != 2 {
			t.Errorf("orders by SNILS: %d, want 2", len(all))
		}
		c, _ := r.Order(ctx, o2.ID)
		if c.Status != store.OrderCancelled || !c.ClosedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("cancelled order %+v", c)
		}
		return nil
	})
}

func redeem(s store.Store, hash []byte, now time.Time) (store.Order, error) {
	var o store.Order
	err := s.Tx(context.Background(), func(tx store.Tx) error {
		var err error
		o, err = tx.RedeemOrder(context.Background(), hash, now)
		if errors.Is(err, store.ErrCodeExpired) {
			// Commit the expiry mark, as the CA does along with its audit.
			return nil
		}
		return err
	})
	if err == nil && o.Status == store.OrderExpired {
		err = store.ErrCodeExpired
	}
	return o, err
}

func testRedeemOutcomes(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(15*time.Minute))
	got, err := redeem(s, o.CodeHash, t0.Add(time.Minute))
	if err != nil || got.ID != o.ID || got.Status != store.OrderRedeemed || !got.RedeemedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first redemption: %+v, %v", got, err)
	}
	if _, err := redeem(s, o.CodeHash, t0.Add(2*time.Minute)); !errors.Is(err, store.ErrCodeUsed) {
		t.Errorf("second redemption: %v, want ErrCodeUsed", err)
	}
	if _, err := redeem(s, randBytes(32), t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Errorf("unknown code: %v, want ErrCodeUnknown", err)
	}
	exp := newOrder(t, s, t0.Add(15*time.Minute))
	// Expiry is exclusive: at ExpiresAt the code is already dead.
	if _, err := redeem(s, exp.CodeHash, t0.Add(15*time.Minute)); !errors.Is(err, store.ErrCodeExpired) {
		t.Errorf("expired code: %v, want ErrCodeExpired", err)
	}
	if _, err := redeem(s, exp.CodeHash, t0); !errors.Is(err, store.ErrCodeExpired) {
		t.Errorf("expired code once marked, clock earlier: %v, want ErrCodeExpired", err)
	}
	can := newOrder(t, s, t0.Add(15*time.Minute))
	tx(t, s, func(tx store.Tx) error { return tx.CancelOrder(ctx, can.ID, t0) })
	if _, err := redeem(s, can.CodeHash, t0.Add(time.Second)); !errors.Is(err, store.ErrCodeCancelled) {
		t.Errorf("cancelled code: %v, want ErrCodeCancelled", err)
	}
	view(t, s, func(r store.Reader) error {
		e, err := r.Order(ctx, exp.ID)
		if err != nil {
			return err
		}
		if e.Status != store.OrderExpired {
			t.Errorf("expired order status %s", e.Status)
		}
		return nil
	})
}

func testFailuresLockOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(15*time.Minute))
	for i := 1; i <= 5; i++ {
		var got store.Order
		tx(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.RecordOrderFailure(ctx, o.ID, 5, t0.Add(time.Duration(i)*time.Second))
			return err
		})
		want := store.OrderPending
		if i == 5 {
			want = store.OrderLocked
		}
		if got.Failures != i || got.Status != want {
			t.Fatalf("after %d failures: %d, %s; want %d, %s", i, got.Failures, got.Status, i, want)
		}
	}
	if _, err := redeem(s, o.CodeHash, t0.Add(time.Minute)); !errors.Is(err, store.ErrCodeLocked) {
		t.Errorf("locked order: %v, want ErrCodeLocked", err)
	}
	err := s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.RecordOrderFailure(ctx, o.ID, 5, t0)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("failure on a locked order: %v, want ErrConflict", err)
	}
}

func testExpireOrders(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newOrder(t, s, t0.Add(time.Minute))
	b := newOrder(t, s, t0.Add(time.Hour))
	var n int
	tx(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.ExpireOrders(ctx, t0.Add(time.Minute))
		return err
	})
	if n != 1 {
		t.Fatalf("ExpireOrders = %d, want 1", n)
	}
	view(t, s, func(r store.Reader) error {
		ga, _ := r.Order(ctx, a.ID)
		gb, _ := r.Order(ctx, b.ID)
		if ga.Status != store.OrderExpired || gb.Status != store.OrderPending {
			t.Errorf("statuses %s, %s", ga.Status, gb.Status)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	var id string
	j := audit.New(func() time.Time { return t0 }, nil)
	err := s.Tx(ctx, func(tx store.Tx) error {
		o := store.Order{Identity: ident, CodeHash: randBytes(32), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := tx.CreateOrder(ctx, &o); err != nil {
			return err
		}
		if _, err := j.Append(ctx, tx, audit.Entry{Actor: "a", Action: "order.create", Object: o.ID}); err != nil {
			return err
		}
		id = o.ID
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want fn's error", err)
	}
	view(t, s, func(r store.Reader) error {
		if _, err := r.Order(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("order after rollback: %v", err)
		}
		if seq, _, err := r.AuditHead(ctx); err != nil || seq != 0 {
			t.Errorf("audit head after rollback: %d, %v", seq, err)
		}
		return nil
	})
}

// newCert allocates a serial and stores a certificate for a fresh key.
func newCert(ctx context.Context, tx store.Tx, nb time.Time, id store.Identity) (store.Certificate, error) {
	serial, err := tx.AllocateSerial(ctx, rand.Reader, nb)
	if err != nil {
		return store.Certificate{}, err
	}
	spki := sha256.Sum256(randBytes(16))
	c := store.Certificate{Serial: serial, Identity: id, SubjectDER: []byte{0x30, 0}, NotBefore: nb,
		NotAfter: nb.Add(365 * 24 * time.Hour), DER: randBytes(64), SPKIHash: spki[:], IssuedAt: nb}
	return c, tx.InsertCertificate(ctx, &c)
}

func mustCert(t *testing.T, s store.Store, nb time.Time) store.Certificate {
	t.Helper()
	var c store.Certificate
	tx(t, s, func(tx store.Tx) error {
		var err error
		c, err = newCert(context.Background(), tx, nb, ident)
		return err
	})
	return c
}

func testCertificateInsert(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(time.Hour))
	var c store.Certificate
	tx(t, s, func(tx store.Tx) error {
		serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
		if err != nil {
			return err
		}
		if serial[0]&0x80 != 0 || serial[0]&0x40 == 0 {
			t.Errorf("serial %v is not positive with its full length", serial)
		}
		c = store.Certificate{Serial: serial, OrderID: o.ID, Identity: ident, SubjectDER: []byte{0x30, 0},
			NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), DER: randBytes(100), SPKIHash: randBytes(32), IssuedAt: t0}
		return tx.InsertCertificate(ctx, &c)
	})
	view(t, s, func(r store.Reader) error {
		got, err := r.Certificate(ctx, c.Serial)
		if err != nil {
			return err
		}
		if got.Serial != c.Serial || got.OrderID != o.ID || got.Identity != ident || !bytes.Equal(got.DER, c.DER) ||
			!got.NotBefore.Equal(t0) || !got.NotAfter.Equal(t0.AddDate(1, 0, 0)) || got.Status != store.CertValid ||
			!got.StatusChangedAt.Equal(t0) || !got.RevokedAt.IsZero() || got.PredecessorSerial != nil {
			t.Errorf("read back %+v", got)
		}
		if got, err := r.CertificateBySPKIHash(ctx, c.SPKIHash); err != nil || got.Serial != c.Serial {
			t.Errorf("CertificateBySPKIHash: %v", err)
		}
		if _, err := r.Certificate(ctx, store.Serial{1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown serial: %v", err)
		}
		return nil
	})
	// The same key again, under a fresh serial: refused, and nothing stored.
	err := s.Tx(ctx, func(tx store.Tx) error {
		serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
		if err != nil {
			return err
		}
		d := c
		d.Serial = serial
		return tx.InsertCertificate(ctx, &d)
	})
	if !errors.Is(err, store.ErrKeyCertified) {
		t.Errorf("second certificate for one key: %v, want ErrKeyCertified", err)
	}
	// Inputs no state could accept.
	for name, mut := range map[string]func(*store.Certificate){
		"no DER":             func(d *store.Certificate) { d.DER = nil },
		"no key hash":        func(d *store.Certificate) { d.SPKIHash = nil },
		"backwards validity": func(d *store.Certificate) { d.NotAfter = d.NotBefore.Add(-time.Second) },
	} {
		err := s.Tx(ctx, func(tx store.Tx) error {
			serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
			if err != nil {
				return err
			}
			d := c
			d.Serial, d.SPKIHash = serial, randBytes(32)
			mut(&d)
			return tx.InsertCertificate(ctx, &d)
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// A serial never allocated.
	err = s.Tx(ctx, func(tx store.Tx) error {
		d := c
		d.Serial, d.SPKIHash = store.Serial{0x42}, randBytes(32)
		return tx.InsertCertificate(ctx, &d)
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unallocated serial: %v, want ErrNotFound", err)
	}
	// A serial with a certificate already.
	err = s.Tx(ctx, func(tx store.Tx) error {
		d := c
		d.SPKIHash = randBytes(32)
		return tx.InsertCertificate(ctx, &d)
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("serial reused: %v, want ErrConflict", err)
	}
	// An order that does not exist, after two good certificates in the same
	// transaction: the failure takes them back with it.
	err = s.Tx(ctx, func(tx store.Tx) error {
		for range 2 {
			if _, err := newCert(ctx, tx, t0, ident); err != nil {
				return err
			}
		}
		serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
		if err != nil {
			return err
		}
		e := store.Certificate{Serial: serial, OrderID: "missing", Identity: ident, SubjectDER: []byte{0x30, 0},
			NotBefore: t0, NotAfter: t0, DER: []byte{1}, SPKIHash: randBytes(32), IssuedAt: t0}
		return tx.InsertCertificate(ctx, &e)
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("certificate for a missing order: %v, want ErrNotFound", err)
	}
	view(t, s, func(r store.Reader) error {
		all, err := r.ListCertificates(ctx, store.CertificateFilter{})
		if err != nil {
			return err
		}
		if len(all) != 1 {
			t.Errorf("%d certificates stored after the refusals, want 1", len(all))
		}
		return nil
	})
}

// repeatReader returns the same bytes on every read of a serial, then fresh
// randomness: a forced collision.
type repeatReader struct {
	fixed []byte
	times int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.times > 0 {
		r.times--
		return copy(p, r.fixed), nil
	}
	return rand.Read(p)
}

func testSerialCollision(t *testing.T, s store.Store) {
	ctx := context.Background()
	fixed := randBytes(20)
	var first, second store.Serial
	tx(t, s, func(tx store.Tx) error {
		var err error
		first, err = tx.AllocateSerial(ctx, &repeatReader{fixed: fixed, times: 1}, t0)
		return err
	})
	tx(t, s, func(tx store.Tx) error {
		var err error
		second, err = tx.AllocateSerial(ctx, &repeatReader{fixed: fixed, times: 2}, t0)
		return err
	})
	if first == second {
		t.Fatal("a colliding serial was handed out twice")
	}
	if !bytes.Equal(first[1:], fixed[1:]) {
		t.Fatal("the first serial is not the reader's bytes")
	}
	err := s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.AllocateSerial(ctx, &repeatReader{fixed: fixed, times: 1 << 20}, t0)
		return err
	})
	if !errors.Is(err, store.ErrSerialExhausted) {
		t.Errorf("an always-colliding source: %v, want ErrSerialExhausted", err)
	}
	err = s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.AllocateSerial(ctx, bytes.NewReader(nil), t0)
		return err
	})
	if err == nil || !errors.Is(err, io.EOF) {
		t.Errorf("an empty source: %v, want EOF", err)
	}
}

func status(t *testing.T, s store.Store, serial store.Serial) store.Certificate {
	t.Helper()
	var c store.Certificate
	view(t, s, func(r store.Reader) error {
		var err error
		c, err = r.Certificate(context.Background(), serial)
		return err
	})
	return c
}

func testRevokeHoldRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b, expired := mustCert(t, s, t0), mustCert(t, s, t0), mustCert(t, s, t0.AddDate(-2, 0, 0))
	t1, t2, t3, t4 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour), t0.Add(4*time.Hour)
	tx(t, s, func(tx store.Tx) error { return tx.Revoke(ctx, a.Serial, store.ReasonKeyCompromise, t1) })
	tx(t, s, func(tx store.Tx) error { return tx.Revoke(ctx, expired.Serial, store.ReasonUnspecified, t1) })
	if c := status(t, s, a.Serial); c.Status != store.CertRevoked || c.RevocationReason != store.ReasonKeyCompromise ||
		!c.RevokedAt.Equal(t1) || !c.StatusChangedAt.Equal(t1) {
		t.Errorf("revoked: %+v", c)
	}
	for name, f := range map[string]func(store.Tx) error{
		"revoke twice":        func(tx store.Tx) error { return tx.Revoke(ctx, a.Serial, store.ReasonSuperseded, t2) },
		"hold a revoked one":  func(tx store.Tx) error { return tx.Hold(ctx, a.Serial, t2) },
		"release a valid one": func(tx store.Tx) error { return tx.Release(ctx, b.Serial, t2) },
	} {
		if err := s.Tx(ctx, f); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", name, err)
		}
	}
	for name, f := range map[string]func(store.Tx) error{
		"revoke with hold":      func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, store.ReasonCertificateHold, t2) },
		"revoke with reason 7":  func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, 7, t2) },
		"revoke with reason 8":  func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, store.ReasonRemoveFromCRL, t2) },
		"revoke with reason 11": func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, 11, t2) },
		"revoke with reason -1": func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, -1, t2) },
	} {
		if err := s.Tx(ctx, f); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.Revoke(ctx, store.Serial{7}, 0, t2) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
	tx(t, s, func(tx store.Tx) error { return tx.Hold(ctx, b.Serial, t2) })
	if c := status(t, s, b.Serial); c.Status != store.CertOnHold || c.RevocationReason != store.ReasonCertificateHold || !c.RevokedAt.Equal(t2) {
		t.Errorf("held: %+v", c)
	}
	view(t, s, func(r store.Reader) error {
		rev, err := r.RevokedCertificates(ctx, t0)
		if err != nil {
			return err
		}
		if got := serials(rev); !sameSet(got, a.Serial, b.Serial) {
			t.Errorf("RevokedCertificates: %v (the expired one must be left out)", got)
		}
		changed, err := r.StatusChangedSince(ctx, t2)
		if err != nil {
			return err
		}
		if got := serials(changed); !sameSet(got, b.Serial) {
			t.Errorf("changed since t2: %v", got)
		}
		return nil
	})
	tx(t, s, func(tx store.Tx) error { return tx.Release(ctx, b.Serial, t3) })
	if c := status(t, s, b.Serial); c.Status != store.CertValid || !c.RevokedAt.IsZero() || c.RevocationReason != store.ReasonRemoveFromCRL {
		t.Errorf("released: %+v", c)
	}
	view(t, s, func(r store.Reader) error {
		changed, err := r.StatusChangedSince(ctx, t3)
		if err != nil {
			return err
		}
		if got := serials(changed); !sameSet(got, b.Serial) {
			t.Errorf("a release belongs in the delta CRL: %v", got)
		}
		return nil
	})
	// Held, then revoked for good: the revocation keeps the hold's time.
	tx(t, s, func(tx store.Tx) error { return tx.Hold(ctx, b.Serial, t3) })
	tx(t, s, func(tx store.Tx) error { return tx.Revoke(ctx, b.Serial, store.ReasonCessationOfOperation, t4) })
	if c := status(t, s, b.Serial); c.Status != store.CertRevoked || !c.RevokedAt.Equal(t3) ||
		!c.StatusChangedAt.Equal(t4) || c.RevocationReason != store.ReasonCessationOfOperation {
		t.Errorf("held then revoked: %+v", c)
	}
}

func serials(cs []store.Certificate) []store.Serial {
	out := make([]store.Serial, len(cs))
	for i, c := range cs {
		out[i] = c.Serial
	}
	return out
}

func sameSet(got []store.Serial, want ...store.Serial) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func testSupersede(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := mustCert(t, s, t0)
	var succ store.Certificate
	revokeAt := old.NotAfter
	tx(t, s, func(tx store.Tx) error {
		serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
		if err != nil {
			return err
		}
		succ = store.Certificate{Serial: serial, Identity: ident, SubjectDER: []byte{0x30, 0}, NotBefore: t0.AddDate(0, 11, 0),
			NotAfter: t0.AddDate(1, 11, 0), DER: []byte{1}, SPKIHash: randBytes(32), IssuedAt: t0.AddDate(0, 11, 0),
			PredecessorSerial: &old.Serial}
		if err := tx.InsertCertificate(ctx, &succ); err != nil {
			return err
		}
		return tx.Supersede(ctx, old.Serial, succ.Serial, succ.IssuedAt, revokeAt)
	})
	o := status(t, s, old.Serial)
	if o.SuccessorSerial == nil || *o.SuccessorSerial != succ.Serial || !o.SupersededAt.Equal(succ.IssuedAt) ||
		!o.RevokeSupersededAt.Equal(revokeAt) || o.Status != store.CertValid {
		t.Errorf("predecessor %+v", o)
	}
	if n := status(t, s, succ.Serial); n.PredecessorSerial == nil || *n.PredecessorSerial != old.Serial {
		t.Errorf("successor %+v", n)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.Supersede(ctx, old.Serial, succ.Serial, t0, t0)
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("superseding twice: %v, want ErrConflict", err)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.Supersede(ctx, succ.Serial, store.Serial{9}, t0, t0)
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown successor: %v, want ErrNotFound", err)
	}
	view(t, s, func(r store.Reader) error {
		due, err := r.DueSupersededRevocations(ctx, revokeAt.Add(-time.Second))
		if err != nil {
			return err
		}
		if len(due) != 0 {
			t.Errorf("due before the time: %d", len(due))
		}
		due, err = r.DueSupersededRevocations(ctx, revokeAt)
		if err != nil {
			return err
		}
		if !sameSet(serials(due), old.Serial) {
			t.Errorf("due at the time: %v", serials(due))
		}
		return nil
	})
}

func testListCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	other := store.Identity{Surname: "Петрова", GivenName: "Анна", SNILS: "08765430300", INN: "773301001890"}
	var made []store.Certificate
	tx(t, s, func(tx store.Tx) error {
		for i := range 25 {
			id := ident
			if i%5 == 0 {
				id = other
			}
			// Pairs share a NotBefore, so paging must order by serial too.
			c, err := newCert(ctx, tx, t0.Add(time.Duration(i/2)*time.Hour), id)
			if err != nil {
				return err
			}
			made = append(made, c)
		}
		return tx.Revoke(ctx, made[3].Serial, store.ReasonKeyCompromise, t0)
	})
	view(t, s, func(r store.Reader) error {
		var all []store.Certificate
		f := store.CertificateFilter{Limit: 4}
		for {
			page, err := r.ListCertificates(ctx, f)
			if err != nil {
				return err
			}
			all = append(all, page...)
			if len(page) < f.Limit {
				break
			}
			cur := page[len(page)-1].Cursor()
			f.After = &cur
		}
		if !sameSet(serials(all), serials(made)...) {
			t.Errorf("paging returned %d certificates, want the 25 made", len(all))
		}
		for i := 1; i < len(all); i++ {
			p, c := all[i-1], all[i]
			if c.NotBefore.Before(p.NotBefore) || c.NotBefore.Equal(p.NotBefore) && bytes.Compare(c.Serial[:], p.Serial[:]) <= 0 {
				t.Errorf("listing out of order at %d", i)
			}
		}
		for name, tc := range map[string]struct {
			f    store.CertificateFilter
			want int
		}{
			"snils":     {store.CertificateFilter{SNILS: other.SNILS}, 5},
			"inn":       {store.CertificateFilter{INN: ident.INN}, 20},
			"surname":   {store.CertificateFilter{Surname: "Петрова"}, 5},
			"status":    {store.CertificateFilter{Status: store.CertRevoked}, 1},
			"serial":    {store.CertificateFilter{Serial: &made[7].Serial}, 1},
			"expiring":  {store.CertificateFilter{NotAfterBefore: made[0].NotAfter.Add(3 * time.Hour)}, 6},
			"from":      {store.CertificateFilter{NotAfterFrom: made[0].NotAfter.Add(3 * time.Hour)}, 19},
			"window":    {store.CertificateFilter{NotAfterFrom: made[0].NotAfter.Add(time.Hour), NotAfterBefore: made[0].NotAfter.Add(3 * time.Hour)}, 4},
			"combined":  {store.CertificateFilter{SNILS: other.SNILS, Status: store.CertValid}, 5},
			"none":      {store.CertificateFilter{SNILS: "00000000000"}, 0},
			"limit cap": {store.CertificateFilter{Limit: 3}, 3},
		} {
			got, err := r.ListCertificates(ctx, tc.f)
			if err != nil {
				return err
			}
			if len(got) != tc.want {
				t.Errorf("%s: %d certificates, want %d", name, len(got), tc.want)
			}
			n, err := r.CountCertificates(ctx, tc.f)
			if err != nil {
				return err
			}
			wantN := tc.want
			if tc.f.Limit != 0 {
				wantN = len(made) // a count ignores the page size
			}
			if n != wantN {
				t.Errorf("%s: counted %d, want %d", name, n, wantN)
			}
		}
		return nil
	})
}

func testRevocationCodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := mustCert(t, s, t0)
	rc := store.RevocationCode{Serial: c.Serial, CodeHash: randBytes(32), CreatedBy: "op", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	tx(t, s, func(tx store.Tx) error { return tx.CreateRevocationCode(ctx, &rc) })
	redeemRC := func(h []byte, now time.Time) (store.RevocationCode, error) {
		var got store.RevocationCode
		err := s.Tx(ctx, func(tx store.Tx) error {
			var err error
			got, err = tx.RedeemRevocationCode(ctx, h, now)
			return err
		})
		return got, err
	}
	got, err := redeemRC(rc.CodeHash, t0.Add(time.Hour))
	if err != nil || got.Serial != c.Serial || got.Status != store.CodeRedeemed || !got.RedeemedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("redeem: %+v, %v", got, err)
	}
	if _, err := redeemRC(rc.CodeHash, t0.Add(time.Hour)); !errors.Is(err, store.ErrCodeUsed) {
		t.Errorf("again: %v, want ErrCodeUsed", err)
	}
	if _, err := redeemRC(randBytes(32), t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Errorf("unknown: %v, want ErrCodeUnknown", err)
	}
	late := store.RevocationCode{Serial: c.Serial, CodeHash: randBytes(32), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tx(t, s, func(tx store.Tx) error { return tx.CreateRevocationCode(ctx, &late) })
	if _, err := redeemRC(late.CodeHash, t0.Add(time.Hour)); !errors.Is(err, store.ErrCodeExpired) {
		t.Errorf("expired: %v, want ErrCodeExpired", err)
	}
	bad := store.RevocationCode{Serial: store.Serial{3}, CodeHash: randBytes(32), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateRevocationCode(ctx, &bad) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code for an unknown certificate: %v, want ErrNotFound", err)
	}
	view(t, s, func(r store.Reader) error {
		g, err := r.RevocationCode(ctx, rc.ID)
		if err != nil || g.Status != store.CodeRedeemed {
			t.Errorf("RevocationCode: %+v, %v", g, err)
		}
		return nil
	})
}

func testOperatorsAndTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := store.Operator{Name: "alice", Role: store.RoleRegistrar, CreatedAt: t0}
	tx(t, s, func(tx store.Tx) error { return tx.CreateOperator(ctx, &op) })
	dup := store.Operator{Name: "alice", Role: store.RoleAdmin, CreatedAt: t0}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateOperator(ctx, &dup) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}
	badRole := store.Operator{Name: "bob", Role: "root", CreatedAt: t0}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateOperator(ctx, &badRole) }); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown role: %v, want ErrInvalid", err)
	}
	noHash := store.APIToken{OperatorID: op.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateAPIToken(ctx, &noHash) }); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("token without a hash: %v, want ErrInvalid", err)
	}
	tok := store.APIToken{OperatorID: op.ID, Hash: randBytes(32), CreatedAt: t0, ExpiresAt: t0.Add(90 * 24 * time.Hour),
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/16"), netip.MustParsePrefix("2001:db8::/32")}}
	tx(t, s, func(tx store.Tx) error { return tx.CreateAPIToken(ctx, &tok) })
	orphan := store.APIToken{OperatorID: "nobody", Hash: randBytes(32), CreatedAt: t0, ExpiresAt: t0}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateAPIToken(ctx, &orphan) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token for an unknown operator: %v, want ErrNotFound", err)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.APITokenByHash(ctx, tok.Hash)
		if err != nil {
			return err
		}
		want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
		if got.ID != tok.ID || got.OperatorID != op.ID || !slices.Equal(got.AllowedCIDRs, want) || !got.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Errorf("token read back %+v", got)
		}
		for _, tc := range []struct {
			now  time.Time
			addr string
			want bool
		}{
			{t0, "10.1.200.1", true},
			{t0, "::ffff:10.1.0.9", true},
			{t0, "2001:db8::1", true},
			{t0, "10.2.0.1", false},
			{tok.ExpiresAt, "10.1.0.1", false},
		} {
			if got.Usable(tc.now, netip.MustParseAddr(tc.addr)) != tc.want {
				t.Errorf("Usable(%v, %s) = %v", tc.now, tc.addr, !tc.want)
			}
		}
		if _, err := r.APITokenByHash(ctx, randBytes(32)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		ops, err := r.ListOperators(ctx)
		if err != nil || len(ops) != 1 || ops[0] != op {
			t.Errorf("ListOperators = %+v, %v", ops, err)
		}
		if g, err := r.OperatorByName(ctx, "alice"); err != nil || g.ID != op.ID {
			t.Errorf("OperatorByName: %v", err)
		}
		return nil
	})
	tx(t, s, func(tx store.Tx) error { return tx.RevokeAPIToken(ctx, tok.ID, t0.Add(time.Hour)) })
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.RevokeAPIToken(ctx, tok.ID, t0) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("revoking twice: %v, want ErrConflict", err)
	}
	tx(t, s, func(tx store.Tx) error { return tx.SetOperatorDisabled(ctx, op.ID, true) })
	view(t, s, func(r store.Reader) error {
		toks, err := r.ListAPITokens(ctx, op.ID)
		if err != nil || len(toks) != 1 || toks[0].Usable(t0.Add(2*time.Hour), netip.MustParseAddr("10.1.0.1")) {
			t.Errorf("revoked token: %+v, %v", toks, err)
		}
		g, _ := r.Operator(ctx, op.ID)
		if !g.Disabled {
			t.Error("operator not disabled")
		}
		return nil
	})
}

func testCRLNumbers(t *testing.T, s store.Store) {
	ctx := context.Background()
	var full, delta store.CRL
	tx(t, s, func(tx store.Tx) error {
		n, err := tx.NextCRLNumber(ctx)
		if err != nil {
			return err
		}
		full = store.CRL{Number: n, Kind: store.CRLFull, ThisUpdate: t0, NextUpdate: t0.Add(24 * time.Hour), DER: []byte{1}}
		if err := tx.InsertCRL(ctx, &full); err != nil {
			return err
		}
		n, err = tx.NextCRLNumber(ctx)
		if err != nil {
			return err
		}
		delta = store.CRL{Number: n, Kind: store.CRLDelta, BaseNumber: full.Number, ThisUpdate: t0, NextUpdate: t0.Add(time.Hour), DER: []byte{2}}
		return tx.InsertCRL(ctx, &delta)
	})
	if full.Number != 1 || delta.Number != 2 {
		t.Errorf("numbers %d, %d; want 1, 2", full.Number, delta.Number)
	}
	for name, tc := range map[string]struct {
		c    store.CRL
		want error
	}{
		"reused number":      {store.CRL{Number: 1, Kind: store.CRLFull, DER: []byte{1}}, store.ErrConflict},
		"number not taken":   {store.CRL{Number: 3, Kind: store.CRLFull, DER: []byte{1}}, store.ErrInvalid},
		"delta without base": {store.CRL{Number: 2, Kind: store.CRLDelta, DER: []byte{1}}, store.ErrInvalid},
		"full with base":     {store.CRL{Number: 2, Kind: store.CRLFull, BaseNumber: 1, DER: []byte{1}}, store.ErrInvalid},
		"unknown kind":       {store.CRL{Number: 2, Kind: "partial", DER: []byte{1}}, store.ErrInvalid},
	} {
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertCRL(ctx, &tc.c) }); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A number taken in a rolled-back transaction is not reused.
	_ = s.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.NextCRLNumber(ctx); err != nil {
			return err
		}
		return errors.New("abandon")
	})
	tx(t, s, func(tx store.Tx) error {
		n, err := tx.NextCRLNumber(ctx)
		if n <= delta.Number {
			t.Errorf("number after a rollback %d, want > %d", n, delta.Number)
		}
		return err
	})
	view(t, s, func(r store.Reader) error {
		lf, err := r.LatestCRL(ctx, store.CRLFull)
		if err != nil || lf.Number != 1 || !bytes.Equal(lf.DER, []byte{1}) || !lf.NextUpdate.Equal(full.NextUpdate) {
			t.Errorf("LatestCRL(full) = %+v, %v", lf, err)
		}
		ld, err := r.LatestCRL(ctx, store.CRLDelta)
		if err != nil || ld.Number != 2 || ld.BaseNumber != 1 {
			t.Errorf("LatestCRL(delta) = %+v, %v", ld, err)
		}
		if _, err := r.CRL(ctx, 99); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CRL(99): %v", err)
		}
		return nil
	})

	// OldestCurrentCRL: the lowest number still current at the time asked,
	// of the kind asked. Full CRLs 1 (until t0+24h), 4 (until t0+12h), 5
	// (until t0+48h).
	tx(t, s, func(tx store.Tx) error {
		for _, next := range []time.Duration{12 * time.Hour, 48 * time.Hour} {
			n, err := tx.NextCRLNumber(ctx)
			if err != nil {
				return err
			}
			if err := tx.InsertCRL(ctx, &store.CRL{Number: n, Kind: store.CRLFull, ThisUpdate: t0, NextUpdate: t0.Add(next), DER: []byte{byte(n)}}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(r store.Reader) error {
		for _, tc := range []struct {
			kind store.CRLKind
			at   time.Time
			want int64 // 0: ErrNotFound
		}{
			{store.CRLFull, t0, 1},
			{store.CRLFull, t0.Add(12 * time.Hour), 1},
			{store.CRLFull, t0.Add(24*time.Hour - time.Microsecond), 1},
			{store.CRLFull, t0.Add(24 * time.Hour), 5}, // 1 ends then; 4 ended at 12h
			{store.CRLFull, t0.Add(48 * time.Hour), 0},
			{store.CRLDelta, t0, 2},
			{store.CRLDelta, t0.Add(time.Hour), 0},
		} {
			c, err := r.OldestCurrentCRL(ctx, tc.kind, tc.at)
			switch {
			case tc.want == 0 && !errors.Is(err, store.ErrNotFound):
				t.Errorf("OldestCurrentCRL(%s, %v) = %d, %v; want ErrNotFound", tc.kind, tc.at, c.Number, err)
			case tc.want != 0 && (err != nil || c.Number != tc.want || c.Kind != tc.kind):
				t.Errorf("OldestCurrentCRL(%s, %v) = %d %s, %v; want %d", tc.kind, tc.at, c.Number, c.Kind, err, tc.want)
			}
		}
		return nil
	})
}

func testAuditChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	j := audit.New(func() time.Time { return t0 }, nil)
	var recs []store.AuditRecord
	for i := range 3 {
		tx(t, s, func(tx store.Tx) error {
			r, err := j.Append(ctx, tx, audit.Entry{Actor: "op", Action: "test", Object: fmt.Sprint(i), Details: map[string]int{"i": i}})
			recs = append(recs, r)
			return err
		})
	}
	if recs[0].Seq != 1 || len(recs[0].PrevHash) != 0 || !bytes.Equal(recs[1].PrevHash, recs[0].Hash) || !bytes.Equal(recs[2].PrevHash, recs[1].Hash) {
		t.Fatalf("chain links wrong: %+v", recs)
	}
	view(t, s, func(r store.Reader) error {
		seq, h, err := r.AuditHead(ctx)
		if err != nil || seq != 3 || !bytes.Equal(h, recs[2].Hash) {
			t.Errorf("head %d %x, %v", seq, h, err)
		}
		got, err := r.AuditRecords(ctx, 2, 10)
		if err != nil || len(got) != 2 || got[0].Seq != 2 || string(got[0].Details) != `{"i":1}` || !got[0].Time.Equal(t0) {
			t.Errorf("AuditRecords(2) = %+v, %v", got, err)
		}
		return nil
	})
	// Appends that skip the slot or the chain are refused.
	for name, f := range map[string]func(store.Tx) error{
		"wrong seq": func(tx store.Tx) error {
			_, prev, err := tx.NextAuditSlot(ctx)
			if err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &store.AuditRecord{Seq: 9, PrevHash: prev, Hash: []byte{1}, Details: []byte("{}")})
		},
		"wrong prev": func(tx store.Tx) error {
			seq, _, err := tx.NextAuditSlot(ctx)
			if err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &store.AuditRecord{Seq: seq, PrevHash: []byte{1}, Hash: []byte{1}, Details: []byte("{}")})
		},
	} {
		if err := s.Tx(ctx, f); !errors.Is(err, store.ErrAuditBroken) {
			t.Errorf("%s: %v, want ErrAuditBroken", name, err)
		}
	}
	if res, err := audit.Verify(ctx, s, audit.VerifyOptions{}); err != nil || res.Records != 3 {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

// Twenty enrollments with one code at once, each a whole issuance
// transaction (redeem, allocate a serial, store a certificate for its own
// key, audit; or audit the refusal): exactly one certificate, the others are
// told the code is used, and the journal holds one record for each.
func testConcurrentRedemption(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(15*time.Minute))
	j := audit.New(func() time.Time { return t0.Add(time.Minute) }, nil)
	const n = 20
	outcomes := make([]error, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				got, err := tx.RedeemOrder(ctx, o.CodeHash, t0.Add(time.Minute))
				outcomes[i] = err
				if err != nil {
					_, aerr := j.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "code.refused", Object: got.ID,
						Details: map[string]string{"reason": err.Error()}})
					return aerr
				}
				serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
				if err != nil {
					return err
				}
				c := store.Certificate{Serial: serial, OrderID: got.ID, Identity: got.Identity, SubjectDER: []byte{0x30, 0},
					NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), DER: []byte{1}, SPKIHash: randBytes(32), IssuedAt: t0}
				if err := tx.InsertCertificate(ctx, &c); err != nil {
					return err
				}
				_, err = j.Append(ctx, tx, audit.Entry{Actor: "enrollment", Action: "cert.issue", Object: serial.String()})
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("enrollment transaction %d failed: %v", i, errs[i])
		}
		switch {
		case outcomes[i] == nil:
			wins++
		case errors.Is(outcomes[i], store.ErrCodeUsed):
		default:
			t.Errorf("enrollment %d: %v, want success or ErrCodeUsed", i, outcomes[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", wins)
	}
	view(t, s, func(r store.Reader) error {
		n, err := r.CountCertificates(ctx, store.CertificateFilter{})
		if err != nil || n != 1 {
			t.Errorf("%d certificates, %v; want exactly 1", n, err)
		}
		return nil
	})
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || res.Records != n {
		t.Fatalf("Verify = %+v, %v; want %d records", res, err, n)
	}
}

// Concurrent transactions appending audit records form one chain without
// gaps, and nobody fails for the lock.
func testConcurrentAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	j := audit.New(func() time.Time { return t0 }, nil)
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- s.Tx(ctx, func(tx store.Tx) error {
					_, err := j.Append(ctx, tx, audit.Entry{Actor: fmt.Sprint("w", w), Action: "test", Object: fmt.Sprint(i)})
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Records != writers*each {
		t.Fatalf("%d records, want %d", res.Records, writers*each)
	}
}

// Concurrent issuance transactions (serial, certificate, audit record) all
// succeed: no spurious busy errors.
func testConcurrentIssuance(t *testing.T, s store.Store) {
	ctx := context.Background()
	j := audit.New(func() time.Time { return t0 }, nil)
	const workers, each = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- s.Tx(ctx, func(tx store.Tx) error {
					c, err := newCert(ctx, tx, t0, ident)
					if err != nil {
						return err
					}
					_, err = j.Append(ctx, tx, audit.Entry{Actor: "enroll", Action: "cert.issue", Object: c.Serial.String()})
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("issuance: %v", err)
		}
	}
	view(t, s, func(r store.Reader) error {
		cs, err := r.ListCertificates(ctx, store.CertificateFilter{Limit: 1000})
		if err != nil || len(cs) != workers*each {
			t.Errorf("%d certificates, %v; want %d", len(cs), err, workers*each)
		}
		return nil
	})
}

// CRL numbers taken concurrently are distinct, and a CRL committed later
// never has a smaller number.
func testConcurrentCRLNumbers(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 16
	var mu sync.Mutex
	var commitOrder []int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.Tx(ctx, func(tx store.Tx) error {
				num, err := tx.NextCRLNumber(ctx)
				if err != nil {
					return err
				}
				// Recording under the lock while the transaction holds the
				// counter's row: commit order equals this order.
				mu.Lock()
				commitOrder = append(commitOrder, num)
				mu.Unlock()
				return tx.InsertCRL(ctx, &store.CRL{Number: num, Kind: store.CRLFull, ThisUpdate: t0, NextUpdate: t0, DER: []byte{1}})
			})
			if err != nil {
				t.Errorf("CRL: %v", err)
			}
		})
	}
	wg.Wait()
	if !slices.IsSorted(commitOrder) || len(slices.Compact(slices.Clone(commitOrder))) != n {
		t.Fatalf("CRL numbers in commit order: %v", commitOrder)
	}
}

func testProofs(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := randBytes(32)
	tx(t, s, func(tx store.Tx) error { return tx.UseProof(ctx, d, t0, t0.Add(10*time.Minute)) })
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.UseProof(ctx, d, t0.Add(time.Minute), t0.Add(11*time.Minute)) }); !errors.Is(err, store.ErrProofReplayed) {
		t.Fatalf("replay: %v, want ErrProofReplayed", err)
	}
	other := randBytes(32)
	tx(t, s, func(tx store.Tx) error { return tx.UseProof(ctx, other, t0, t0.Add(20*time.Minute)) })
	var n int
	tx(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneProofs(ctx, t0.Add(15*time.Minute))
		return err
	})
	if n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	// The pruned one is gone (its window has passed); the other still counts.
	tx(t, s, func(tx store.Tx) error { return tx.UseProof(ctx, d, t0.Add(15*time.Minute), t0.Add(25*time.Minute)) })
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.UseProof(ctx, other, t0, t0) }); !errors.Is(err, store.ErrProofReplayed) {
		t.Fatalf("unpruned replay: %v", err)
	}
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	acquire := func(holder string, now time.Time) bool {
		t.Helper()
		var ok bool
		tx(t, s, func(tx store.Tx) error {
			var err error
			ok, err = tx.AcquireLease(ctx, "crl", holder, now, time.Minute)
			return err
		})
		return ok
	}
	if !acquire("a", t0) {
		t.Fatal("a free lease was refused")
	}
	if acquire("b", t0.Add(30*time.Second)) {
		t.Fatal("b took a's live lease")
	}
	if !acquire("a", t0.Add(50*time.Second)) {
		t.Fatal("a could not renew its lease")
	}
	// Renewed at +50 s for a minute: still a's at +100 s, free at +110 s.
	if acquire("b", t0.Add(100*time.Second)) {
		t.Fatal("b took the renewed lease early")
	}
	if !acquire("b", t0.Add(110*time.Second)) {
		t.Fatal("b could not take the expired lease")
	}
	tx(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, "crl", "a") }) // not a's: no effect
	if acquire("a", t0.Add(120*time.Second)) {
		t.Fatal("a's release of b's lease freed it")
	}
	tx(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, "crl", "b") })
	if !acquire("a", t0.Add(121*time.Second)) {
		t.Fatal("a released lease was refused")
	}
	err := s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.AcquireLease(ctx, "x", "a", t0, 0)
		return err
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("zero ttl: %v, want ErrInvalid", err)
	}
}

// An order's certificate is found by the order's ID, and only it.
func testCertificatesByOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOrder(t, s, t0.Add(time.Hour))
	mustCert(t, s, t0) // not from the order
	var c store.Certificate
	tx(t, s, func(tx store.Tx) error {
		serial, err := tx.AllocateSerial(ctx, rand.Reader, t0)
		if err != nil {
			return err
		}
		spki := sha256.Sum256(randBytes(16))
		c = store.Certificate{Serial: serial, OrderID: o.ID, Identity: ident, SubjectDER: []byte{0x30, 0}, NotBefore: t0,
			NotAfter: t0.Add(time.Hour), DER: randBytes(64), SPKIHash: spki[:], IssuedAt: t0}
		return tx.InsertCertificate(ctx, &c)
	})
	view(t, s, func(r store.Reader) error {
		got, err := r.ListCertificates(ctx, store.CertificateFilter{OrderID: o.ID})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Serial != c.Serial || got[0].OrderID != o.ID {
			t.Errorf("by order: %d certificates, want the order's one", len(got))
		}
		none, err := r.ListCertificates(ctx, store.CertificateFilter{OrderID: "no-such-order"})
		if err != nil || len(none) != 0 {
			t.Errorf("unknown order: %d certificates, %v", len(none), err)
		}
		return nil
	})
}
