// Package store is the CA's storage seam: the records the authority keeps
// (enrollment orders, certificates, revocation codes, operators and their API
// tokens, CRLs, the audit journal) and the transactions that change them.
//
// Every change runs inside Store.Tx, and the audit record of that change is
// appended through the same Tx (ca/audit takes it), so a change and its record
// commit together or not at all. The state transitions that must not race
// (redeeming a code, revoking, taking the next CRL number or audit slot) are
// single conditional statements whose row count decides, so they are correct
// under concurrent writers on any back end, not only under SQLite's single
// writer.
//
// Implementations: ca/store/sqlite (the default, embedded); a PostgreSQL one is
// the same ca/store/sqlstore code with another dialect. ca/store/storetest is
// the behaviour suite every implementation runs.
//
// Times are kept at microsecond precision (what PostgreSQL keeps); the store
// truncates what it is given, so a value read back equals the value written
// after Truncate(time.Microsecond).
package store

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"
)

// Errors callers branch on. Implementations wrap them with context.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is a change the current state forbids (revoking a revoked
	// certificate, cancelling a redeemed order, a duplicate name).
	ErrConflict = errors.New("store: conflict with the current state")
	// ErrInvalid is a request no state could satisfy: a missing hash, an
	// unknown role or reason, a CRL number not taken from NextCRLNumber. It
	// is the caller's bug, not the user's.
	ErrInvalid = errors.New("store: invalid request")
	// ErrKeyCertified is a certificate for a public key already certified.
	ErrKeyCertified = errors.New("store: this public key is already certified")
	// ErrSerialExhausted means serial allocation kept colliding: the random
	// source is broken.
	ErrSerialExhausted = errors.New("store: could not allocate a unique serial")
	// ErrAuditBroken is an append whose slot does not follow the head.
	ErrAuditBroken = errors.New("store: audit append out of order")
	// ErrProofReplayed is a signed request whose digest was used before.
	ErrProofReplayed = errors.New("store: request already used")

	// Code redemption outcomes. ErrCodeUnknown: no order or revocation code
	// has this hash (a wrong code).
	ErrCodeUnknown   = errors.New("store: unknown code")
	ErrCodeUsed      = errors.New("store: code already used")
	ErrCodeExpired   = errors.New("store: code expired")
	ErrCodeCancelled = errors.New("store: code cancelled")
	ErrCodeLocked    = errors.New("store: order locked after too many failures")
)

// Store opens transactions. Implementations are safe for concurrent use.
type Store interface {
	// Tx runs fn in one read-write transaction and commits if fn returns nil;
	// when Tx returns nil the change is durable. fn may be called again if
	// the back end reports a serialization failure before commit, so fn must
	// have no effects outside the Tx, and it must not call Tx itself.
	// Concurrent Tx calls never fail merely because another writer holds a
	// lock; they wait (bounded by ctx). An implementation may commit several
	// concurrent calls together (SQLite's group commit): each fn then runs
	// alone in a savepoint, and fails or succeeds on its own.
	Tx(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(Reader) error) error
	Close() error
}

// Reader holds the queries.
type Reader interface {
	Order(ctx context.Context, id string) (Order, error)
	OrderByCodeHash(ctx context.Context, hash []byte) (Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, error)

	Certificate(ctx context.Context, serial Serial) (Certificate, error)
	CertificateBySPKIHash(ctx context.Context, hash []byte) (Certificate, error)
	// ListCertificates returns certificates matching f ordered by (NotBefore,
	// Serial), starting after f.After; the last one's Cursor continues.
	ListCertificates(ctx context.Context, f CertificateFilter) ([]Certificate, error)
	// CountCertificates counts the certificates matching f (After and Limit
	// are ignored): the expiring-soon gauge, search totals.
	CountCertificates(ctx context.Context, f CertificateFilter) (int, error)
	// RevokedCertificates lists certificates revoked or on hold that expire
	// after notAfter (a CRL may drop expired entries), ordered by serial.
	RevokedCertificates(ctx context.Context, notAfter time.Time) ([]Certificate, error)
	// StatusChangedSince lists certificates whose status changed at or after
	// t (revoked, held or released): the entries of a delta CRL.
	StatusChangedSince(ctx context.Context, t time.Time) ([]Certificate, error)
	// DueSupersededRevocations lists superseded certificates still valid
	// whose RevokeSupersededAt is at or before now.
	DueSupersededRevocations(ctx context.Context, now time.Time) ([]Certificate, error)

	RevocationCode(ctx context.Context, id string) (RevocationCode, error)

	Operator(ctx context.Context, id string) (Operator, error)
	OperatorByName(ctx context.Context, name string) (Operator, error)
	ListOperators(ctx context.Context) ([]Operator, error)
	APIToken(ctx context.Context, id string) (APIToken, error)
	// APITokenByHash finds a token by its hash; callers check expiry,
	// revocation and source address themselves (APIToken.Usable).
	APITokenByHash(ctx context.Context, hash []byte) (APIToken, error)
	ListAPITokens(ctx context.Context, operatorID string) ([]APIToken, error)

	CRL(ctx context.Context, number int64) (CRL, error)
	// LatestCRL returns the CRL of kind with the highest number.
	LatestCRL(ctx context.Context, kind CRLKind) (CRL, error)
	// OldestCurrentCRL returns the CRL of kind with the lowest number whose
	// NextUpdate is after at: the oldest complete CRL a relying party may
	// still hold, which a delta CRL takes as its base so that it applies to
	// every complete CRL still in use.
	OldestCurrentCRL(ctx context.Context, kind CRLKind, at time.Time) (CRL, error)

	// AuditHead returns the last audit record's seq and hash (0 and nil for an
	// empty journal).
	AuditHead(ctx context.Context) (seq uint64, hash []byte, err error)
	// AuditRecords returns up to limit records with seq ≥ from, in seq order.
	AuditRecords(ctx context.Context, from uint64, limit int) ([]AuditRecord, error)
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader

	// CreateOrder stores a pending order; it fills o.ID. A code hash already
	// in use is ErrConflict.
	CreateOrder(ctx context.Context, o *Order) error
	// RedeemOrder marks the order with this code hash redeemed, atomically:
	// only an order pending and unexpired at now is redeemed, so of two
	// concurrent redemptions exactly one wins. It returns the order, or
	// ErrCodeUnknown, ErrCodeUsed, ErrCodeExpired, ErrCodeCancelled or
	// ErrCodeLocked. On ErrCodeExpired the order is marked expired in this
	// transaction: to keep the mark (and audit the refusal), fn records the
	// error and returns nil.
	RedeemOrder(ctx context.Context, codeHash []byte, now time.Time) (Order, error)
	// CancelOrder cancels a pending order; otherwise ErrConflict.
	CancelOrder(ctx context.Context, id string, now time.Time) error
	// RecordOrderFailure counts a failed attempt on a pending order and locks
	// it when the count reaches limit. It returns the updated order.
	RecordOrderFailure(ctx context.Context, id string, limit int, now time.Time) (Order, error)
	// ExpireOrders marks pending orders expired at now and returns how many.
	ExpireOrders(ctx context.Context, now time.Time) (int, error)

	// AllocateSerial draws a random 20-byte positive serial from rand and
	// reserves it, drawing again on a collision; ErrSerialExhausted after a
	// few tries.
	AllocateSerial(ctx context.Context, rand io.Reader, now time.Time) (Serial, error)
	// InsertCertificate stores c, whose serial must have been allocated in
	// this or an earlier transaction. A key already certified is
	// ErrKeyCertified; a serial already used by a certificate is ErrConflict.
	InsertCertificate(ctx context.Context, c *Certificate) error
	// Revoke revokes a valid or held certificate (a held one may be revoked
	// for good with any reason). ErrConflict if it is already revoked.
	Revoke(ctx context.Context, serial Serial, reason RevocationReason, at time.Time) error
	// Hold puts a valid certificate on hold (reason certificateHold).
	Hold(ctx context.Context, serial Serial, at time.Time) error
	// Release returns a held certificate to valid.
	Release(ctx context.Context, serial Serial, at time.Time) error
	// Supersede links a successor to its predecessor: the predecessor gets
	// SuccessorSerial, SupersededAt = at and RevokeSupersededAt. ErrConflict
	// if it already has a successor or is not valid.
	Supersede(ctx context.Context, predecessor, successor Serial, at, revokeAt time.Time) error

	// CreateRevocationCode stores a pending revocation code; fills r.ID.
	CreateRevocationCode(ctx context.Context, r *RevocationCode) error
	// RedeemRevocationCode is RedeemOrder for revocation codes.
	RedeemRevocationCode(ctx context.Context, codeHash []byte, now time.Time) (RevocationCode, error)

	// CreateOperator stores an operator; fills op.ID. A taken name is
	// ErrConflict.
	CreateOperator(ctx context.Context, op *Operator) error
	SetOperatorDisabled(ctx context.Context, id string, disabled bool) error
	// CreateAPIToken stores a token; fills t.ID.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	// RevokeAPIToken revokes a token; ErrConflict if already revoked.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error

	// UseProof records the digest of a signed single-use request (renewal,
	// holder revocation) until keepUntil; a digest already recorded is
	// ErrProofReplayed.
	UseProof(ctx context.Context, digest []byte, now, keepUntil time.Time) error
	// PruneProofs forgets proofs whose keepUntil is before now.
	PruneProofs(ctx context.Context, now time.Time) (int, error)

	// AcquireLease takes or renews the lease on a background job for holder
	// until now+ttl. It succeeds if nobody holds the lease, holder already
	// does, or the current lease expired at or before now; otherwise it
	// returns false.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives up holder's lease on name, if it has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// NextCRLNumber takes the next CRL number. Numbers are strictly
	// increasing in commit order, across processes sharing the database.
	NextCRLNumber(ctx context.Context) (int64, error)
	// InsertCRL stores a CRL; its number must come from NextCRLNumber.
	InsertCRL(ctx context.Context, c *CRL) error

	// NextAuditSlot reserves the next audit seq and returns it with the
	// previous record's hash. It serializes audit appends: a second writer
	// waits until this transaction ends.
	NextAuditSlot(ctx context.Context) (seq uint64, prevHash []byte, err error)
	// AppendAudit stores r in the slot NextAuditSlot gave; anything else is
	// ErrAuditBroken.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	// InsertCheckpoint stores a signed checkpoint.
	InsertCheckpoint(ctx context.Context, c *Checkpoint) error
}

// Identity is an applicant as a registrar registered them.
type Identity struct {
	Surname    string
	GivenName  string
	Patronymic string // optional
	SNILS      string // 11 digits, checked by the caller
	INN        string // 12 digits for a person, checked by the caller
	Email      string // optional
}

// OrderStatus is where an enrollment order stands.
type OrderStatus string

const (
	OrderPending   OrderStatus = "pending"
	OrderRedeemed  OrderStatus = "redeemed"
	OrderCancelled OrderStatus = "cancelled"
	OrderLocked    OrderStatus = "locked"
	OrderExpired   OrderStatus = "expired"
)

// Order is one enrollment: an identity and its one-time activation code.
type Order struct {
	ID         string
	Identity   Identity
	Status     OrderStatus
	CodeHash   []byte
	CreatedBy  string // operator ID
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Failures   int
	RedeemedAt time.Time // zero unless redeemed
	ClosedAt   time.Time // when it left pending for another reason
}

// OrderFilter selects orders; zero fields match everything.
type OrderFilter struct {
	Status OrderStatus
	SNILS  string
	Limit  int // default 100
}

// Serial is a certificate serial number: 20 bytes, big-endian, positive.
type Serial [20]byte

// CertStatus is a certificate's revocation status.
type CertStatus string

const (
	CertValid   CertStatus = "valid"
	CertRevoked CertStatus = "revoked"
	CertOnHold  CertStatus = "on-hold"
)

// RevocationReason is an RFC 5280 CRLReason.
type RevocationReason int

const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6
	ReasonRemoveFromCRL        RevocationReason = 8
	ReasonPrivilegeWithdrawn   RevocationReason = 9
	ReasonAACompromise         RevocationReason = 10
)

// Certificate is an issued certificate and its status.
type Certificate struct {
	Serial     Serial
	OrderID    string // empty for certificates not from an order
	Identity   Identity
	SubjectDER []byte
	NotBefore  time.Time
	NotAfter   time.Time
	DER        []byte
	SPKIHash   []byte // hash of the SubjectPublicKeyInfo; unique
	IssuedAt   time.Time

	Status           CertStatus
	StatusChangedAt  time.Time
	RevokedAt        time.Time // zero unless revoked or on hold
	RevocationReason RevocationReason

	PredecessorSerial  *Serial
	SuccessorSerial    *Serial
	SupersededAt       time.Time
	RevokeSupersededAt time.Time
}

// CertificateFilter selects certificates; zero fields match everything.
type CertificateFilter struct {
	Serial         *Serial
	OrderID        string // the enrollment order redeemed for it
	SNILS          string
	INN            string
	Surname        string // exact, case-sensitive
	Status         CertStatus
	NotAfterFrom   time.Time // NotAfter ≥ this
	NotAfterBefore time.Time // NotAfter < this
	After          *Cursor
	Limit          int // default 100, at most 1000
}

// Cursor continues a certificate listing after a given row.
type Cursor struct {
	NotBefore time.Time
	Serial    Serial
}

// Cursor returns the cursor that continues a listing after c.
func (c Certificate) Cursor() Cursor { return Cursor{c.NotBefore, c.Serial} }

// CodeStatus is where a revocation code stands.
type CodeStatus string

const (
	CodePending   CodeStatus = "pending"
	CodeRedeemed  CodeStatus = "redeemed"
	CodeCancelled CodeStatus = "cancelled"
	CodeExpired   CodeStatus = "expired"
)

// RevocationCode lets the holder of a lost token revoke its certificate.
type RevocationCode struct {
	ID         string
	Serial     Serial
	CodeHash   []byte
	Status     CodeStatus
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RedeemedAt time.Time
}

// Role is what an operator may do.
type Role string

const (
	RoleAdmin     Role = "admin"
	RoleRegistrar Role = "registrar"
	RoleAuditor   Role = "auditor"
)

// Operator is a person or system using the admin API.
type Operator struct {
	ID        string
	Name      string
	Role      Role
	Disabled  bool
	CreatedAt time.Time
}

// APIToken authenticates an operator.
type APIToken struct {
	ID           string
	OperatorID   string
	Hash         []byte
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RevokedAt    time.Time      // zero unless revoked
	AllowedCIDRs []netip.Prefix // empty: any address
}

// Usable reports whether t authenticates a request from addr at now.
func (t APIToken) Usable(now time.Time, addr netip.Addr) bool {
	if !t.RevokedAt.IsZero() || !now.Before(t.ExpiresAt) {
		return false
	}
	if len(t.AllowedCIDRs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range t.AllowedCIDRs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// CRLKind tells a full CRL from a delta.
type CRLKind string

const (
	CRLFull  CRLKind = "full"
	CRLDelta CRLKind = "delta"
)

// CRL is a published CRL.
type CRL struct {
	Number     int64
	Kind       CRLKind
	BaseNumber int64 // the full CRL a delta is relative to; 0 for full CRLs
	ThisUpdate time.Time
	NextUpdate time.Time
	DER        []byte
}

// AuditRecord is one entry of the journal. Hash covers every other field and
// PrevHash; ca/audit defines the encoding.
type AuditRecord struct {
	Seq      uint64
	Time     time.Time
	Actor    string
	Action   string
	Object   string
	Details  []byte // JSON
	PrevHash []byte
	Hash     []byte
}

// Checkpoint is a signature over the journal up to Seq.
type Checkpoint struct {
	Seq       uint64
	Hash      []byte // the hash of record Seq
	Time      time.Time
	KeyID     []byte // identifies the signing key (e.g. its SPKI hash)
	Signature []byte
}
