package audit

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gostkey/gostkey/ca/store"
)

// Problem is what is wrong with a record.
type Problem int

const (
	// Missing: the record with this seq is absent (a gap, or the journal
	// ends before its head).
	Missing Problem = iota + 1
	// HashMismatch: the stored hash is not the hash of the stored fields
	// (the record was edited).
	HashMismatch
	// PrevMismatch: the record's prev_hash is not the previous record's hash
	// (a record before it was replaced, or it was inserted).
	PrevMismatch
	// Unexpected: a record after the head (appended around the store).
	Unexpected
	// CheckpointMismatch: a checkpoint names a hash the record at its seq
	// does not have, or its signature does not verify.
	CheckpointMismatch
	// CheckpointMissing: an automatic checkpoint that should exist does not.
	CheckpointMissing
)

func (p Problem) String() string {
	switch p {
	case Missing:
		return "missing"
	case HashMismatch:
		return "hash mismatch"
	case PrevMismatch:
		return "previous hash mismatch"
	case Unexpected:
		return "record beyond the head"
	case CheckpointMismatch:
		return "checkpoint mismatch"
	case CheckpointMissing:
		return "checkpoint missing"
	}
	return fmt.Sprintf("Problem(%d)", int(p))
}

// BrokenError names the first record where the journal breaks.
type BrokenError struct {
	Seq     uint64
	Problem Problem
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit: record %d: %v", e.Seq, e.Problem)
}

// VerifyOptions add checkpoint checks to Verify.
type VerifyOptions struct {
	// Key verifies checkpoint signatures; nil skips them.
	Key  crypto.PublicKey
	Opts crypto.SignerOpts
	// Every, when not 0, requires a checkpoint at each multiple of it up to
	// the head.
	Every uint64
}

// Result summarises a journal that verified.
type Result struct {
	Records     uint64 // = the head's seq
	Checkpoints int
}

// page is how many records Verify and Export read at a time.
const page = 1000

// Verify walks the whole journal in one snapshot of s and returns the first
// problem as a *BrokenError (by seq: a record is checked before any later
// one), or another error if the store fails.
func Verify(ctx context.Context, s store.Store, o VerifyOptions) (Result, error) {
	var res Result
	err := s.View(ctx, func(r store.Reader) error {
		headSeq, headHash, err := r.AuditHead(ctx)
		if err != nil {
			return err
		}
		cps, err := r.Checkpoints(ctx)
		if err != nil {
			return err
		}
		cpAt := map[uint64]store.Checkpoint{}
		for _, c := range cps {
			cpAt[c.Seq] = c
		}
		var prev []byte
		next := uint64(1)
		for {
			recs, err := r.AuditRecords(ctx, next, page)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if rec.Seq != next {
					return &BrokenError{Seq: next, Problem: missingOrUnexpected(next, headSeq)}
				}
				if rec.Seq > headSeq {
					return &BrokenError{Seq: rec.Seq, Problem: Unexpected}
				}
				if !bytes.Equal(rec.PrevHash, prev) {
					return &BrokenError{Seq: rec.Seq, Problem: PrevMismatch}
				}
				if !bytes.Equal(Hash(rec), rec.Hash) {
					return &BrokenError{Seq: rec.Seq, Problem: HashMismatch}
				}
				if err := checkCheckpoint(rec, cpAt, o); err != nil {
					return err
				}
				prev = rec.Hash
				next++
			}
			if len(recs) < page {
				break
			}
		}
		if next-1 != headSeq {
			return &BrokenError{Seq: next, Problem: Missing}
		}
		if headSeq > 0 && !bytes.Equal(prev, headHash) {
			// The last record was replaced wholesale with a self-consistent
			// one: the head still remembers the real hash.
			return &BrokenError{Seq: headSeq, Problem: HashMismatch}
		}
		for _, c := range cps {
			if c.Seq > headSeq {
				return &BrokenError{Seq: c.Seq, Problem: CheckpointMismatch}
			}
		}
		res = Result{Records: headSeq, Checkpoints: len(cps)}
		return nil
	})
	return res, err
}

func missingOrUnexpected(seq, head uint64) Problem {
	if seq > head {
		return Unexpected
	}
	return Missing
}

func checkCheckpoint(rec store.AuditRecord, cpAt map[uint64]store.Checkpoint, o VerifyOptions) error {
	c, ok := cpAt[rec.Seq]
	if !ok {
		if o.Every > 0 && rec.Seq%o.Every == 0 {
			return &BrokenError{Seq: rec.Seq, Problem: CheckpointMissing}
		}
		return nil
	}
	if !bytes.Equal(c.Hash, rec.Hash) {
		return &BrokenError{Seq: rec.Seq, Problem: CheckpointMismatch}
	}
	if o.Key != nil {
		if err := VerifyCheckpoint(c, o.Key, o.Opts); err != nil {
			if errors.Is(err, ErrCheckpointSignature) {
				return &BrokenError{Seq: rec.Seq, Problem: CheckpointMismatch}
			}
			return err
		}
	}
	return nil
}

// ExportedRecord is one line of Export's output.
type ExportedRecord struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Object   string          `json:"object"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prev_hash"` // hex
	Hash     string          `json:"hash"`      // hex
}

// Export writes the records with seq ≥ from as JSON lines, one record per
// line, in seq order, from one snapshot of s. It returns how many it wrote.
// It does not verify; run Verify for that (an auditor can also recompute each
// hash from the exported fields: they are exactly the hashed bytes).
func Export(ctx context.Context, s store.Store, w io.Writer, from uint64) (int, error) {
	n := 0
	err := s.View(ctx, func(r store.Reader) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for next := max(from, 1); ; {
			recs, err := r.AuditRecords(ctx, next, page)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				details := json.RawMessage(rec.Details)
				if !json.Valid(details) {
					// A tampered record must still export as a valid
					// line; Verify is what reports it.
					b, _ := json.Marshal(string(rec.Details))
					details = b
				}
				if err := enc.Encode(ExportedRecord{
					Seq: rec.Seq, Time: rec.Time, Actor: rec.Actor, Action: rec.Action,
					Object: rec.Object, Details: details,
					PrevHash: hex.EncodeToString(rec.PrevHash), Hash: hex.EncodeToString(rec.Hash),
				}); err != nil {
					return fmt.Errorf("audit: export: %w", err)
				}
				n++
				next = rec.Seq + 1
			}
			if len(recs) < page {
				return nil
			}
		}
	})
	return n, err
}
