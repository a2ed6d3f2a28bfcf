// Package audit is the CA's append-only, tamper-evident journal.
//
// Every state change appends one record inside the store transaction that
// makes the change (Journal.Append takes the store.Tx), so the change and its
// record commit together. Records form a hash chain: each record's hash is
// Streebog-256 over a length-prefixed encoding of its fields and the previous
// record's hash, so editing, inserting or deleting a record breaks every later
// link, and Verify names the first record where the chain breaks. Every N
// records (and when asked, e.g. at shutdown) a checkpoint signs the head with
// the CA's key, so rewriting the whole chain from some point on needs that key.
package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
)

// Entry is what a caller records; the journal adds seq, time and the chain.
type Entry struct {
	Actor  string // operator ID, "enrollment", "system", …
	Action string // e.g. "order.create", "cert.issue"
	Object string // serial in hex, order ID, …
	// Details is marshalled to JSON (a json.RawMessage is taken as is, once
	// checked). It must never hold a secret.
	Details any
}

// Checkpointer signs the journal's head.
type Checkpointer struct {
	Signer crypto.Signer
	// Opts are passed to Signer.Sign and choose the digest: a *gost.SignerOpts
	// names a Streebog variant; anything else uses Opts.HashFunc().
	Opts crypto.SignerOpts
	// KeyID identifies the key in the stored checkpoint (e.g. the SHA-256
	// of its SubjectPublicKeyInfo).
	KeyID []byte
	// Every is how many records apart automatic checkpoints are; 0: only
	// explicit ones.
	Every uint64
}

// Journal appends records.
type Journal struct {
	now func() time.Time
	cp  *Checkpointer
}

// New returns a journal whose records are stamped by now; cp may be nil (no
// checkpoints).
func New(now func() time.Time, cp *Checkpointer) *Journal {
	return &Journal{now: now, cp: cp}
}

// Append adds e as the next record, in tx, and a checkpoint when the new seq
// is a multiple of the Checkpointer's Every. Concurrent transactions append
// in one total order: the second waits in NextAuditSlot for the first.
//
// Append after making the change it records, and do nothing slow after it in
// the same transaction (a token signature, a network call): from the append
// to the commit the transaction holds the journal's head, which every other
// writer needs. Appending last also keeps the head the last lock taken, so
// PostgreSQL transactions cannot deadlock over it.
func (j *Journal) Append(ctx context.Context, tx store.Tx, e Entry) (store.AuditRecord, error) {
	details, err := encodeDetails(e.Details)
	if err != nil {
		return store.AuditRecord{}, err
	}
	seq, prev, err := tx.NextAuditSlot(ctx)
	if err != nil {
		return store.AuditRecord{}, err
	}
	r := store.AuditRecord{
		Seq:      seq,
		Time:     j.now().UTC().Truncate(time.Microsecond),
		Actor:    e.Actor,
		Action:   e.Action,
		Object:   e.Object,
		Details:  details,
		PrevHash: prev,
	}
	r.Hash = Hash(r)
	if err := tx.AppendAudit(ctx, &r); err != nil {
		return store.AuditRecord{}, err
	}
	if j.cp != nil && j.cp.Every > 0 && seq%j.cp.Every == 0 {
		if _, err := j.checkpoint(ctx, tx, seq, r.Hash); err != nil {
			return store.AuditRecord{}, err
		}
	}
	return r, nil
}

// Checkpoint signs the current head in tx (at shutdown, say). With an empty
// journal, or a head already checkpointed, it does nothing and returns false.
func (j *Journal) Checkpoint(ctx context.Context, tx store.Tx) (bool, error) {
	if j.cp == nil {
		return false, errors.New("audit: no checkpoint signer")
	}
	seq, h, err := tx.NextAuditSlot(ctx) // takes the head's lock
	if err != nil {
		return false, err
	}
	seq--
	if seq == 0 {
		return false, nil
	}
	cps, err := tx.Checkpoints(ctx)
	if err != nil {
		return false, err
	}
	if len(cps) > 0 && cps[len(cps)-1].Seq == seq {
		return false, nil
	}
	_, err = j.checkpoint(ctx, tx, seq, h)
	return err == nil, err
}

func (j *Journal) checkpoint(ctx context.Context, tx store.Tx, seq uint64, h []byte) (store.Checkpoint, error) {
	c := store.Checkpoint{Seq: seq, Hash: h, Time: j.now().UTC().Truncate(time.Microsecond), KeyID: j.cp.KeyID}
	hf, err := digestFor(j.cp.Opts)
	if err != nil {
		return c, err
	}
	hf.Write(checkpointMessage(c))
	sig, err := j.cp.Signer.Sign(rand.Reader, hf.Sum(nil), j.cp.Opts)
	if err != nil {
		return c, fmt.Errorf("audit: signing checkpoint %d: %w", seq, err)
	}
	c.Signature = sig
	if err := tx.InsertCheckpoint(ctx, &c); err != nil {
		return c, err
	}
	return c, nil
}

func digestFor(opts crypto.SignerOpts) (hash.Hash, error) {
	if g, ok := opts.(*gost.SignerOpts); ok {
		if !g.Hash.Available() {
			return nil, fmt.Errorf("audit: checkpoint hash %v unavailable", g.Hash)
		}
		return g.Hash.New(), nil
	}
	if opts == nil || !opts.HashFunc().Available() {
		return nil, errors.New("audit: checkpoint signer options name no hash")
	}
	return opts.HashFunc().New(), nil
}

// ErrDetails reports details that are not JSON.
var ErrDetails = errors.New("audit: details are not valid JSON")

func encodeDetails(d any) ([]byte, error) {
	var raw []byte
	switch v := d.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDetails, err)
		}
		raw = b
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, ErrDetails
	}
	return buf.Bytes(), nil
}

// Hash is a record's hash: Streebog-256 over the domain label and each field
// as an 8-byte big-endian length followed by its bytes, in the order seq
// (8 bytes), time (Unix microseconds, 8 bytes), actor, action, object,
// details, prev_hash. The lengths make the encoding injective: no two
// different records encode alike, whatever bytes their fields hold.
func Hash(r store.AuditRecord) []byte {
	h := gost.New256()
	h.Write(recordMessage(r))
	return h.Sum(nil)
}

func recordMessage(r store.AuditRecord) []byte {
	var e enc
	e.field([]byte("gostkey audit record v1"))
	e.u64(r.Seq)
	e.u64(uint64(r.Time.UnixMicro()))
	e.field([]byte(r.Actor))
	e.field([]byte(r.Action))
	e.field([]byte(r.Object))
	e.field(r.Details)
	e.field(r.PrevHash)
	return e.b
}

// checkpointMessage is what a checkpoint signs: the label, seq, time, key ID
// and the head hash, encoded as records are.
func checkpointMessage(c store.Checkpoint) []byte {
	var e enc
	e.field([]byte("gostkey audit checkpoint v1"))
	e.u64(c.Seq)
	e.u64(uint64(c.Time.UnixMicro()))
	e.field(c.KeyID)
	e.field(c.Hash)
	return e.b
}

type enc struct{ b []byte }

func (e *enc) u64(v uint64) {
	e.b = binary.BigEndian.AppendUint64(e.b, 8)
	e.b = binary.BigEndian.AppendUint64(e.b, v)
}

func (e *enc) field(f []byte) {
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(len(f)))
	e.b = append(e.b, f...)
}

// ErrCheckpointSignature reports a checkpoint whose signature does not verify.
var ErrCheckpointSignature = errors.New("audit: checkpoint signature invalid")

// VerifyCheckpoint checks c's signature with pub (a *gost.PublicKey or an
// *ecdsa.PublicKey). opts name the digest as for Checkpointer.Opts.
func VerifyCheckpoint(c store.Checkpoint, pub crypto.PublicKey, opts crypto.SignerOpts) error {
	hf, err := digestFor(opts)
	if err != nil {
		return err
	}
	hf.Write(checkpointMessage(c))
	d := hf.Sum(nil)
	var ok bool
	switch k := pub.(type) {
	case *gost.PublicKey:
		ok = k.Verify(d, c.Signature)
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, d, c.Signature)
	default:
		return fmt.Errorf("audit: checkpoint key type %T not supported", pub)
	}
	if !ok {
		return fmt.Errorf("checkpoint %d: %w", c.Seq, ErrCheckpointSignature)
	}
	return nil
}
