package audit_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostkey/gostkey/ca/audit"
	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/ca/store/sqlite"
	"github.com/gostkey/gostkey/gost"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// journal is a store with n records appended and raw SQL access to its file,
// for tampering.
type journal struct {
	s   store.Store
	raw *sql.DB
	j   *audit.Journal
}

func newJournal(t *testing.T, cp *audit.Checkpointer, n int) *journal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	tick := t0
	jr := &journal{s: s, raw: raw, j: audit.New(func() time.Time { tick = tick.Add(time.Second); return tick }, cp)}
	jr.append(t, n)
	return jr
}

func (jr *journal) append(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		err := jr.s.Tx(ctx, func(tx store.Tx) error {
			_, err := jr.j.Append(ctx, tx, audit.Entry{Actor: "registrar-1", Action: "order.create",
				Object: fmt.Sprint("order-", i), Details: map[string]any{"snils": "11223344595", "n": i}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (jr *journal) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	res, err := jr.raw.Exec(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%q changed %d rows", q, n)
	}
}

func wantBroken(t *testing.T, err error, seq uint64, p audit.Problem) {
	t.Helper()
	var be *audit.BrokenError
	if !errors.As(err, &be) {
		t.Fatalf("Verify = %v, want a BrokenError at %d (%v)", err, seq, p)
	}
	if be.Seq != seq || be.Problem != p {
		t.Fatalf("Verify = %v, want record %d: %v", be, seq, p)
	}
}

func TestVerifyIntact(t *testing.T) {
	jr := newJournal(t, nil, 2500) // more than two pages
	res, err := audit.Verify(context.Background(), jr.s, audit.VerifyOptions{})
	if err != nil || res.Records != 2500 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	empty := newJournal(t, nil, 0)
	if res, err := audit.Verify(context.Background(), empty.s, audit.VerifyOptions{}); err != nil || res.Records != 0 {
		t.Fatalf("Verify(empty) = %+v, %v", res, err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, jr *journal)
		seq    uint64
		p      audit.Problem
	}{
		{"one byte of details", func(t *testing.T, jr *journal) {
			var d []byte
			if err := jr.raw.QueryRow(`SELECT details FROM audit_records WHERE seq = 7`).Scan(&d); err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(d, []byte("11223344595"))
			d[i] = '9'
			jr.exec(t, `UPDATE audit_records SET details = ? WHERE seq = 7`, d)
		}, 7, audit.HashMismatch},
		{"actor", func(t *testing.T, jr *journal) {
			jr.exec(t, `UPDATE audit_records SET actor = 'someone-else' WHERE seq = 3`)
		}, 3, audit.HashMismatch},
		{"time", func(t *testing.T, jr *journal) {
			jr.exec(t, `UPDATE audit_records SET time = time + 1 WHERE seq = 1`)
		}, 1, audit.HashMismatch},
		{"a row deleted", func(t *testing.T, jr *journal) {
			jr.exec(t, `DELETE FROM audit_records WHERE seq = 12`)
		}, 12, audit.Missing},
		{"the last row deleted", func(t *testing.T, jr *journal) {
			jr.exec(t, `DELETE FROM audit_records WHERE seq = 20`)
		}, 20, audit.Missing},
		{"the first row deleted", func(t *testing.T, jr *journal) {
			jr.exec(t, `DELETE FROM audit_records WHERE seq = 1`)
		}, 1, audit.Missing},
		{"a record rewritten with a matching hash", func(t *testing.T, jr *journal) {
			// Someone without the chain's later records recomputes record 5's
			// hash after editing it: record 6's link gives it away.
			rewrite(t, jr, 5)
		}, 6, audit.PrevMismatch},
		{"the last record rewritten with a matching hash", func(t *testing.T, jr *journal) {
			rewrite(t, jr, 20)
		}, 20, audit.HashMismatch},
		{"a record appended around the store", func(t *testing.T, jr *journal) {
			jr.exec(t, `INSERT INTO audit_records SELECT seq + 1, time, actor, action, object, details, hash, hash FROM audit_records WHERE seq = 20`)
		}, 21, audit.Unexpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jr := newJournal(t, nil, 20)
			tc.tamper(t, jr)
			_, err := audit.Verify(context.Background(), jr.s, audit.VerifyOptions{})
			wantBroken(t, err, tc.seq, tc.p)
		})
	}
}

// rewrite edits record seq and gives it a hash that matches its new fields.
func rewrite(t *testing.T, jr *journal, seq uint64) {
	t.Helper()
	var recs []store.AuditRecord
	if err := jr.s.View(context.Background(), func(r store.Reader) error {
		var err error
		recs, err = r.AuditRecords(context.Background(), seq, 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	r.Details = []byte(`{"n":0,"snils":"00000000000"}`)
	r.Hash = audit.Hash(r)
	jr.exec(t, `UPDATE audit_records SET details = ?, hash = ? WHERE seq = ?`, r.Details, r.Hash, int64(seq))
}

func TestHashEncoding(t *testing.T) {
	base := store.AuditRecord{Seq: 4, Time: t0, Actor: "ab", Action: "c", Object: "o", Details: []byte(`{}`), PrevHash: []byte{1, 2}}
	h := audit.Hash(base)
	if len(h) != 32 {
		t.Fatalf("hash has %d bytes", len(h))
	}
	// The documented encoding, rebuilt here independently.
	var want bytes.Buffer
	field := func(b []byte) {
		var l [8]byte
		for i := range 8 {
			l[7-i] = byte(uint64(len(b)) >> (8 * i))
		}
		want.Write(l[:])
		want.Write(b)
	}
	u64 := func(v uint64) {
		var b [8]byte
		for i := range 8 {
			b[7-i] = byte(v >> (8 * i))
		}
		field(b[:])
	}
	field([]byte("gostkey audit record v1"))
	u64(4)
	u64(uint64(t0.UnixMicro()))
	field([]byte("ab"))
	field([]byte("c"))
	field([]byte("o"))
	field([]byte(`{}`))
	field([]byte{1, 2})
	if sum := gost.Sum256(want.Bytes()); !bytes.Equal(h, sum[:]) {
		t.Fatalf("Hash = %x, want Streebog-256 of the documented encoding %x", h, sum)
	}
	// Moving a byte from one field to the next changes the hash.
	shifted := base
	shifted.Actor, shifted.Action = "a", "bc"
	if bytes.Equal(audit.Hash(shifted), h) {
		t.Fatal("field boundaries are not in the hash")
	}
	for name, f := range map[string]func(*store.AuditRecord){
		"seq":    func(r *store.AuditRecord) { r.Seq++ },
		"time":   func(r *store.AuditRecord) { r.Time = r.Time.Add(time.Microsecond) },
		"object": func(r *store.AuditRecord) { r.Object = "p" },
		"prev":   func(r *store.AuditRecord) { r.PrevHash = []byte{1, 3} },
	} {
		r := base
		f(&r)
		if bytes.Equal(audit.Hash(r), h) {
			t.Errorf("%s is not in the hash", name)
		}
	}
}

func TestDetails(t *testing.T) {
	jr := newJournal(t, nil, 0)
	ctx := context.Background()
	var recs []store.AuditRecord
	for _, d := range []any{nil, json.RawMessage(` { "a" : [1, 2] } `), struct {
		Serial string `json:"serial"`
	}{"7f"}} {
		if err := jr.s.Tx(ctx, func(tx store.Tx) error {
			r, err := jr.j.Append(ctx, tx, audit.Entry{Actor: "a", Action: "b", Details: d})
			recs = append(recs, r)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{`{}`, `{"a":[1,2]}`, `{"serial":"7f"}`} {
		if string(recs[i].Details) != want {
			t.Errorf("details %d = %s, want %s", i, recs[i].Details, want)
		}
	}
	for _, bad := range []any{json.RawMessage(`{`), func() {}} {
		err := jr.s.Tx(ctx, func(tx store.Tx) error {
			_, err := jr.j.Append(ctx, tx, audit.Entry{Details: bad})
			return err
		})
		if !errors.Is(err, audit.ErrDetails) {
			t.Errorf("details %T: %v, want ErrDetails", bad, err)
		}
	}
}

func gostCheckpointer(t *testing.T, every uint64) (*audit.Checkpointer, *gost.PrivateKey) {
	t.Helper()
	key, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &audit.Checkpointer{Signer: key, Opts: &gost.SignerOpts{Hash: gost.Streebog256}, KeyID: []byte("ca-1"), Every: every}, key
}

func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	cp, key := gostCheckpointer(t, 5)
	jr := newJournal(t, cp, 12)
	// At shutdown: the head (12) gets a checkpoint; a second call has nothing
	// to add.
	for want := range []bool{true, false} {
		var did bool
		if err := jr.s.Tx(ctx, func(tx store.Tx) error {
			var err error
			did, err = jr.j.Checkpoint(ctx, tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if did != (want == 0) {
			t.Fatalf("Checkpoint call %d did %v", want, did)
		}
	}
	opts := audit.VerifyOptions{Key: &key.PublicKey, Opts: cp.Opts, Every: 5}
	res, err := audit.Verify(ctx, jr.s, opts)
	if err != nil || res.Records != 12 || res.Checkpoints != 3 {
		t.Fatalf("Verify = %+v, %v; want 12 records, 3 checkpoints", res, err)
	}
	var cps []store.Checkpoint
	if err := jr.s.View(ctx, func(r store.Reader) error { cps, err = r.Checkpoints(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	for i, seq := range []uint64{5, 10, 12} {
		if cps[i].Seq != seq || !bytes.Equal(cps[i].KeyID, []byte("ca-1")) {
			t.Fatalf("checkpoint %d: %+v", i, cps[i])
		}
		if err := audit.VerifyCheckpoint(cps[i], &key.PublicKey, cp.Opts); err != nil {
			t.Fatal(err)
		}
	}

	other, _ := gostCheckpointer(t, 5)
	_, err = audit.Verify(ctx, jr.s, audit.VerifyOptions{Key: other.Signer.Public(), Opts: cp.Opts})
	wantBroken(t, err, 5, audit.CheckpointMismatch)

	sig := bytes.Clone(cps[1].Signature)
	sig[3] ^= 1
	jr.exec(t, `UPDATE audit_checkpoints SET signature = ? WHERE seq = 10`, sig)
	_, err = audit.Verify(ctx, jr.s, opts)
	wantBroken(t, err, 10, audit.CheckpointMismatch)
	// Without a key the signature is not checked, the hashes still are.
	if _, err := audit.Verify(ctx, jr.s, audit.VerifyOptions{}); err != nil {
		t.Fatalf("Verify without a key: %v", err)
	}
	jr.exec(t, `UPDATE audit_checkpoints SET signature = ? WHERE seq = 10`, cps[1].Signature)

	// Cutting the tail and moving the head back leaves a consistent chain,
	// but not the signed checkpoint at 12.
	var h10 []byte
	if err := jr.raw.QueryRow(`SELECT hash FROM audit_records WHERE seq = 10`).Scan(&h10); err != nil {
		t.Fatal(err)
	}
	jr.exec(t, `DELETE FROM audit_records WHERE seq = 11`)
	jr.exec(t, `DELETE FROM audit_records WHERE seq = 12`)
	jr.exec(t, `UPDATE audit_head SET seq = 10, hash = ? WHERE id = 1`, h10)
	_, err = audit.Verify(ctx, jr.s, opts)
	wantBroken(t, err, 12, audit.CheckpointMismatch)

	jr.exec(t, `DELETE FROM audit_checkpoints WHERE seq = 5`)
	_, err = audit.Verify(ctx, jr.s, opts)
	wantBroken(t, err, 5, audit.CheckpointMissing)
}

func TestCheckpointECDSA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp := &audit.Checkpointer{Signer: key, Opts: crypto.SHA256, KeyID: []byte("k"), Every: 2}
	jr := newJournal(t, cp, 4)
	if _, err := audit.Verify(context.Background(), jr.s, audit.VerifyOptions{Key: &key.PublicKey, Opts: crypto.SHA256, Every: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestExport(t *testing.T) {
	jr := newJournal(t, nil, 1005)
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), jr.s, &buf, 3)
	if err != nil || n != 1003 {
		t.Fatalf("Export = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1003 {
		t.Fatalf("%d lines", len(lines))
	}
	var prev string
	for i, l := range lines {
		var e audit.ExportedRecord
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e.Seq != uint64(i+3) || (i > 0 && e.PrevHash != prev) {
			t.Fatalf("line %d: seq %d, prev %s", i, e.Seq, e.PrevHash)
		}
		// An auditor recomputes each hash from the exported fields alone.
		ph, _ := hex.DecodeString(e.PrevHash)
		r := store.AuditRecord{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object, Details: e.Details, PrevHash: ph}
		if hex.EncodeToString(audit.Hash(r)) != e.Hash {
			t.Fatalf("line %d: exported fields do not hash to the exported hash", i)
		}
		prev = e.Hash
	}
	// A record whose details are no longer JSON still exports as a line.
	jr.exec(t, `UPDATE audit_records SET details = ? WHERE seq = 2`, []byte("{broken"))
	buf.Reset()
	if _, err := audit.Export(context.Background(), jr.s, &buf, 0); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(strings.SplitN(buf.String(), "\n", 3)[1], "\n")
	var e audit.ExportedRecord
	if err := json.Unmarshal([]byte(first), &e); err != nil || string(e.Details) != `"{broken"` {
		t.Fatalf("tampered line %q: %v", first, err)
	}
}
