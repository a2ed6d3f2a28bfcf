package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca/store"
)

// tx is one transaction; it implements store.Tx (and store.Reader in views).
type tx struct {
	tx *sql.Tx
	ph func(int) string
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, rebind(query, t.ph), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(query, t.ph), args...)
}

func (t *tx) row(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(query, t.ph), args...)
}

// notFound turns sql.ErrNoRows into store.ErrNotFound naming what was sought.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNull(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func toSerial(b []byte) (store.Serial, error) {
	var s store.Serial
	if len(b) != len(s) {
		return s, fmt.Errorf("sqlstore: stored serial has %d bytes", len(b))
	}
	copy(s[:], b)
	return s, nil
}

func nullSerial(s *store.Serial) any {
	if s == nil {
		return nil
	}
	return s[:]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// ---- orders

const orderCols = `id, surname, given_name, patronymic, snils, inn, email, status, code_hash,
	created_by, created_at, expires_at, failures, redeemed_at, closed_at`

func scanOrder(sc scanner) (store.Order, error) {
	var o store.Order
	var created, expires int64
	var redeemed, closed sql.NullInt64
	err := sc.Scan(&o.ID, &o.Identity.Surname, &o.Identity.GivenName, &o.Identity.Patronymic,
		&o.Identity.SNILS, &o.Identity.INN, &o.Identity.Email, &o.Status, &o.CodeHash,
		&o.CreatedBy, &created, &expires, &o.Failures, &redeemed, &closed)
	o.CreatedAt, o.ExpiresAt = fromMicros(created), fromMicros(expires)
	o.RedeemedAt, o.ClosedAt = fromNull(redeemed), fromNull(closed)
	return o, err
}

func (t *tx) Order(ctx context.Context, id string) (store.Order, error) {
	o, err := scanOrder(t.row(ctx, `SELECT `+orderCols+` FROM orders WHERE id = ?`, id))
	if err != nil {
		return o, notFound(err, "order")
	}
	return o, nil
}

func (t *tx) OrderByCodeHash(ctx context.Context, hash []byte) (store.Order, error) {
	o, err := scanOrder(t.row(ctx, `SELECT `+orderCols+` FROM orders WHERE code_hash = ?`, hash))
	if err != nil {
		return o, notFound(err, "order")
	}
	return o, nil
}

func (t *tx) ListOrders(ctx context.Context, f store.OrderFilter) ([]store.Order, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.SNILS != "" {
		where, args = append(where, "snils = ?"), append(args, f.SNILS)
	}
	q := `SELECT ` + orderCols + ` FROM orders`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, id LIMIT ?"
	args = append(args, limit(f.Limit))
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: orders: %w", err)
	}
	defer rows.Close()
	var out []store.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// minHashLen is the shortest code or token hash accepted: anything shorter is
// a caller's mistake (a truncated or missing hash would make codes collide).
const minHashLen = 16

func (t *tx) CreateOrder(ctx context.Context, o *store.Order) error {
	if len(o.CodeHash) < minHashLen || !o.ExpiresAt.After(o.CreatedAt) {
		return fmt.Errorf("create order: no code hash or no validity: %w", store.ErrInvalid)
	}
	id, err := newID()
	if err != nil {
		return err
	}
	o.ID, o.Status, o.Failures = id, store.OrderPending, 0
	o.CreatedAt = o.CreatedAt.Truncate(time.Microsecond)
	o.ExpiresAt = o.ExpiresAt.Truncate(time.Microsecond)
	n, err := t.exec(ctx, `INSERT INTO orders (id, surname, given_name, patronymic, snils, inn, email,
		status, code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		o.ID, o.Identity.Surname, o.Identity.GivenName, o.Identity.Patronymic, o.Identity.SNILS,
		o.Identity.INN, o.Identity.Email, string(o.Status), o.CodeHash, o.CreatedBy,
		micros(o.CreatedAt), micros(o.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create order: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create order: code hash in use: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) RedeemOrder(ctx context.Context, codeHash []byte, now time.Time) (store.Order, error) {
	// The one statement that decides: of concurrent redemptions only one
	// finds the row still pending (PostgreSQL re-checks the WHERE after the
	// row lock is released; SQLite has one writer).
	n, err := t.exec(ctx, `UPDATE orders SET status = 'redeemed', redeemed_at = ?
		WHERE code_hash = ? AND status = 'pending' AND expires_at > ?`,
		micros(now), codeHash, micros(now))
	if err != nil {
		return store.Order{}, fmt.Errorf("sqlstore: redeem: %w", err)
	}
	o, err := t.OrderByCodeHash(ctx, codeHash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Order{}, store.ErrCodeUnknown
	}
	if err != nil {
		return store.Order{}, err
	}
	if n == 1 {
		return o, nil
	}
	switch o.Status {
	case store.OrderRedeemed:
		return o, store.ErrCodeUsed
	case store.OrderCancelled:
		return o, store.ErrCodeCancelled
	case store.OrderLocked:
		return o, store.ErrCodeLocked
	case store.OrderPending:
		if _, err := t.exec(ctx, `UPDATE orders SET status = 'expired', closed_at = ? WHERE id = ? AND status = 'pending'`,
			micros(now), o.ID); err != nil {
			return o, fmt.Errorf("sqlstore: expire order: %w", err)
		}
		o.Status, o.ClosedAt = store.OrderExpired, now.Truncate(time.Microsecond)
	}
	return o, store.ErrCodeExpired
}

func (t *tx) CancelOrder(ctx context.Context, id string, now time.Time) error {
	n, err := t.exec(ctx, `UPDATE orders SET status = 'cancelled', closed_at = ? WHERE id = ? AND status = 'pending'`,
		micros(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: cancel order: %w", err)
	}
	if n == 0 {
		o, err := t.Order(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("cancel order: it is %s: %w", o.Status, store.ErrConflict)
	}
	return nil
}

func (t *tx) RecordOrderFailure(ctx context.Context, id string, limit int, now time.Time) (store.Order, error) {
	n, err := t.exec(ctx, `UPDATE orders SET failures = failures + 1,
		status = CASE WHEN failures + 1 >= ? THEN 'locked' ELSE status END,
		closed_at = CASE WHEN failures + 1 >= ? THEN ? ELSE closed_at END
		WHERE id = ? AND status = 'pending'`, limit, limit, micros(now), id)
	if err != nil {
		return store.Order{}, fmt.Errorf("sqlstore: order failure: %w", err)
	}
	o, err := t.Order(ctx, id)
	if err != nil {
		return o, err
	}
	if n == 0 {
		return o, fmt.Errorf("order failure: it is %s: %w", o.Status, store.ErrConflict)
	}
	return o, nil
}

func (t *tx) ExpireOrders(ctx context.Context, now time.Time) (int, error) {
	n, err := t.exec(ctx, `UPDATE orders SET status = 'expired', closed_at = ? WHERE status = 'pending' AND expires_at <= ?`,
		micros(now), micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: expire orders: %w", err)
	}
	return int(n), nil
}

// ---- certificates

const certCols = `serial, order_id, surname, given_name, patronymic, snils, inn, email, subject_der,
	not_before, not_after, der, spki_hash, issued_at, status, status_changed_at, revoked_at,
	revocation_reason, predecessor, successor, superseded_at, revoke_superseded_at`

func scanCert(sc scanner) (store.Certificate, error) {
	var c store.Certificate
	var serial, pred, succ []byte
	var orderID sql.NullString
	var nb, na, issued, changed int64
	var revoked, superseded, revokeSup sql.NullInt64
	var reason int
	err := sc.Scan(&serial, &orderID, &c.Identity.Surname, &c.Identity.GivenName, &c.Identity.Patronymic,
		&c.Identity.SNILS, &c.Identity.INN, &c.Identity.Email, &c.SubjectDER, &nb, &na, &c.DER,
		&c.SPKIHash, &issued, &c.Status, &changed, &revoked, &reason, &pred, &succ, &superseded, &revokeSup)
	if err != nil {
		return c, err
	}
	if c.Serial, err = toSerial(serial); err != nil {
		return c, err
	}
	c.OrderID = orderID.String
	c.NotBefore, c.NotAfter, c.IssuedAt, c.StatusChangedAt = fromMicros(nb), fromMicros(na), fromMicros(issued), fromMicros(changed)
	c.RevokedAt, c.SupersededAt, c.RevokeSupersededAt = fromNull(revoked), fromNull(superseded), fromNull(revokeSup)
	c.RevocationReason = store.RevocationReason(reason)
	for _, l := range []struct {
		b   []byte
		dst **store.Serial
	}{{pred, &c.PredecessorSerial}, {succ, &c.SuccessorSerial}} {
		if l.b != nil {
			s, err := toSerial(l.b)
			if err != nil {
				return c, err
			}
			*l.dst = &s
		}
	}
	return c, nil
}

func (t *tx) certs(ctx context.Context, q string, args ...any) ([]store.Certificate, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: certificates: %w", err)
	}
	defer rows.Close()
	var out []store.Certificate
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: certificates: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) Certificate(ctx context.Context, serial store.Serial) (store.Certificate, error) {
	c, err := scanCert(t.row(ctx, `SELECT `+certCols+` FROM certificates WHERE serial = ?`, serial[:]))
	if err != nil {
		return c, notFound(err, "certificate")
	}
	return c, nil
}

func (t *tx) CertificateBySPKIHash(ctx context.Context, hash []byte) (store.Certificate, error) {
	c, err := scanCert(t.row(ctx, `SELECT `+certCols+` FROM certificates WHERE spki_hash = ?`, hash))
	if err != nil {
		return c, notFound(err, "certificate")
	}
	return c, nil
}

// certWhere turns a filter into a WHERE clause (with its leading space)
// and its arguments.
func certWhere(f store.CertificateFilter, withCursor bool) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.Serial != nil {
		add("serial = ?", f.Serial[:])
	}
	if f.OrderID != "" {
		add("order_id = ?", f.OrderID)
	}
	if f.SNILS != "" {
		add("snils = ?", f.SNILS)
	}
	if f.INN != "" {
		add("inn = ?", f.INN)
	}
	if f.Surname != "" {
		add("surname = ?", f.Surname)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if !f.NotAfterFrom.IsZero() {
		add("not_after >= ?", micros(f.NotAfterFrom))
	}
	if !f.NotAfterBefore.IsZero() {
		add("not_after < ?", micros(f.NotAfterBefore))
	}
	if withCursor && f.After != nil {
		nb := micros(f.After.NotBefore)
		add("(not_before > ? OR (not_before = ? AND serial > ?))", nb, nb, f.After.Serial[:])
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func (t *tx) ListCertificates(ctx context.Context, f store.CertificateFilter) ([]store.Certificate, error) {
	where, args := certWhere(f, true)
	return t.certs(ctx, `SELECT `+certCols+` FROM certificates`+where+` ORDER BY not_before, serial LIMIT ?`,
		append(args, limit(f.Limit))...)
}

func (t *tx) CountCertificates(ctx context.Context, f store.CertificateFilter) (int, error) {
	where, args := certWhere(f, false)
	var n int
	if err := t.row(ctx, `SELECT COUNT(*) FROM certificates`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count certificates: %w", err)
	}
	return n, nil
}

func (t *tx) RevokedCertificates(ctx context.Context, notAfter time.Time) ([]store.Certificate, error) {
	return t.certs(ctx, `SELECT `+certCols+` FROM certificates
		WHERE status <> 'valid' AND not_after > ? ORDER BY serial`, micros(notAfter))
}

func (t *tx) StatusChangedSince(ctx context.Context, since time.Time) ([]store.Certificate, error) {
	return t.certs(ctx, `SELECT `+certCols+` FROM certificates
		WHERE status_changed_at >= ? AND (status <> 'valid' OR revocation_reason = 8)
		ORDER BY serial`, micros(since))
}

func (t *tx) DueSupersededRevocations(ctx context.Context, now time.Time) ([]store.Certificate, error) {
	return t.certs(ctx, `SELECT `+certCols+` FROM certificates
		WHERE status = 'valid' AND successor IS NOT NULL AND revoke_superseded_at <= ? ORDER BY serial`, micros(now))
}

// serialTries bounds AllocateSerial: with 159 random bits a second collision
// in a row means the random source is broken, not bad luck.
const serialTries = 4

func (t *tx) AllocateSerial(ctx context.Context, rand io.Reader, now time.Time) (store.Serial, error) {
	for range serialTries {
		var s store.Serial
		if _, err := io.ReadFull(rand, s[:]); err != nil {
			return s, fmt.Errorf("sqlstore: serial randomness: %w", err)
		}
		// Positive and of full length in DER: clear the top bit, set the
		// next so the encoding never shrinks (RFC 5280 4.1.2.2: ≤ 20 octets).
		s[0] = s[0]&0x7f | 0x40
		n, err := t.exec(ctx, `INSERT INTO serials (serial, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			s[:], micros(now))
		if err != nil {
			return s, fmt.Errorf("sqlstore: allocate serial: %w", err)
		}
		if n == 1 {
			return s, nil
		}
	}
	return store.Serial{}, store.ErrSerialExhausted
}

func (t *tx) InsertCertificate(ctx context.Context, c *store.Certificate) error {
	if len(c.SPKIHash) < minHashLen || len(c.DER) == 0 || len(c.SubjectDER) == 0 || c.NotAfter.Before(c.NotBefore) {
		return fmt.Errorf("insert certificate: missing DER, subject or key hash, or a backwards validity: %w", store.ErrInvalid)
	}
	var serialKnown int
	if err := t.row(ctx, `SELECT COUNT(*) FROM serials WHERE serial = ?`, c.Serial[:]).Scan(&serialKnown); err != nil {
		return fmt.Errorf("sqlstore: insert certificate: %w", err)
	}
	if serialKnown == 0 {
		return fmt.Errorf("insert certificate: serial not allocated: %w", store.ErrNotFound)
	}
	if c.Status == "" {
		c.Status = store.CertValid
	}
	if c.StatusChangedAt.IsZero() {
		c.StatusChangedAt = c.IssuedAt
	}
	for _, p := range []*time.Time{&c.NotBefore, &c.NotAfter, &c.IssuedAt, &c.StatusChangedAt, &c.RevokedAt, &c.SupersededAt, &c.RevokeSupersededAt} {
		*p = p.Truncate(time.Microsecond)
	}
	// The references are checked first: a foreign-key failure would abort a
	// PostgreSQL transaction instead of returning ErrNotFound.
	var orderID any
	if c.OrderID != "" {
		if _, err := t.Order(ctx, c.OrderID); err != nil {
			return err
		}
		orderID = c.OrderID
	}
	if c.PredecessorSerial != nil {
		if _, err := t.Certificate(ctx, *c.PredecessorSerial); err != nil {
			return err
		}
	}
	n, err := t.exec(ctx, `INSERT INTO certificates (`+certCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.Serial[:], orderID, c.Identity.Surname, c.Identity.GivenName, c.Identity.Patronymic,
		c.Identity.SNILS, c.Identity.INN, c.Identity.Email, c.SubjectDER, micros(c.NotBefore),
		micros(c.NotAfter), c.DER, c.SPKIHash, micros(c.IssuedAt), string(c.Status),
		micros(c.StatusChangedAt), nullMicros(c.RevokedAt), int(c.RevocationReason),
		nullSerial(c.PredecessorSerial), nullSerial(c.SuccessorSerial), nullMicros(c.SupersededAt),
		nullMicros(c.RevokeSupersededAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert certificate: %w", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := t.CertificateBySPKIHash(ctx, c.SPKIHash); err == nil {
		return store.ErrKeyCertified
	}
	return fmt.Errorf("insert certificate: serial or predecessor already used: %w", store.ErrConflict)
}

func (t *tx) changeStatus(ctx context.Context, serial store.Serial, what, set, where string, args ...any) error {
	n, err := t.exec(ctx, `UPDATE certificates SET `+set+` WHERE serial = ? AND `+where, append(args, serial[:])...)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	if n == 1 {
		return nil
	}
	c, err := t.Certificate(ctx, serial)
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: certificate is %s: %w", what, c.Status, store.ErrConflict)
}

func (t *tx) Revoke(ctx context.Context, serial store.Serial, reason store.RevocationReason, at time.Time) error {
	if reason == store.ReasonCertificateHold || reason == store.ReasonRemoveFromCRL || reason < 0 || reason > store.ReasonAACompromise || reason == 7 {
		return fmt.Errorf("revoke: reason %d is not a revocation reason: %w", reason, store.ErrInvalid)
	}
	// A held certificate revoked for good keeps the hold's time: relying
	// parties have treated it as unusable since then, and the CRL entry's
	// revocationDate should not move later.
	return t.changeStatus(ctx, serial, "revoke",
		`status = 'revoked', revocation_reason = ?, status_changed_at = ?,
		 revoked_at = CASE WHEN status = 'on-hold' THEN revoked_at ELSE ? END`,
		`status IN ('valid', 'on-hold')`, int(reason), micros(at), micros(at))
}

func (t *tx) Hold(ctx context.Context, serial store.Serial, at time.Time) error {
	return t.changeStatus(ctx, serial, "hold",
		`status = 'on-hold', revocation_reason = 6, revoked_at = ?, status_changed_at = ?`,
		`status = 'valid'`, micros(at), micros(at))
}

func (t *tx) Release(ctx context.Context, serial store.Serial, at time.Time) error {
	// Reason 8 (removeFromCRL) marks the release for the next delta CRL.
	return t.changeStatus(ctx, serial, "release",
		`status = 'valid', revocation_reason = 8, revoked_at = NULL, status_changed_at = ?`,
		`status = 'on-hold'`, micros(at))
}

func (t *tx) Supersede(ctx context.Context, predecessor, successor store.Serial, at, revokeAt time.Time) error {
	// Checked first: a foreign-key failure would abort a PostgreSQL
	// transaction instead of returning ErrNotFound.
	if _, err := t.Certificate(ctx, successor); err != nil {
		return err
	}
	return t.changeStatus(ctx, predecessor, "supersede",
		`successor = ?, superseded_at = ?, revoke_superseded_at = ?`,
		`status = 'valid' AND successor IS NULL`, successor[:], micros(at), micros(revokeAt))
}

// ---- revocation codes

const revCodeCols = `id, serial, code_hash, status, created_by, created_at, expires_at, redeemed_at`

func scanRevCode(sc scanner) (store.RevocationCode, error) {
	var r store.RevocationCode
	var serial []byte
	var created, expires int64
	var redeemed sql.NullInt64
	if err := sc.Scan(&r.ID, &serial, &r.CodeHash, &r.Status, &r.CreatedBy, &created, &expires, &redeemed); err != nil {
		return r, err
	}
	var err error
	r.Serial, err = toSerial(serial)
	r.CreatedAt, r.ExpiresAt, r.RedeemedAt = fromMicros(created), fromMicros(expires), fromNull(redeemed)
	return r, err
}

func (t *tx) RevocationCode(ctx context.Context, id string) (store.RevocationCode, error) {
	r, err := scanRevCode(t.row(ctx, `SELECT `+revCodeCols+` FROM revocation_codes WHERE id = ?`, id))
	if err != nil {
		return r, notFound(err, "revocation code")
	}
	return r, nil
}

func (t *tx) CreateRevocationCode(ctx context.Context, r *store.RevocationCode) error {
	if len(r.CodeHash) < minHashLen || !r.ExpiresAt.After(r.CreatedAt) {
		return fmt.Errorf("create revocation code: no code hash or no validity: %w", store.ErrInvalid)
	}
	id, err := newID()
	if err != nil {
		return err
	}
	r.ID, r.Status = id, store.CodePending
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.Truncate(time.Microsecond), r.ExpiresAt.Truncate(time.Microsecond)
	if _, err := t.Certificate(ctx, r.Serial); err != nil {
		return err
	}
	n, err := t.exec(ctx, `INSERT INTO revocation_codes (`+revCodeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT DO NOTHING`, r.ID, r.Serial[:], r.CodeHash, string(r.Status), r.CreatedBy,
		micros(r.CreatedAt), micros(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create revocation code: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create revocation code: code hash in use: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) RedeemRevocationCode(ctx context.Context, codeHash []byte, now time.Time) (store.RevocationCode, error) {
	n, err := t.exec(ctx, `UPDATE revocation_codes SET status = 'redeemed', redeemed_at = ?
		WHERE code_hash = ? AND status = 'pending' AND expires_at > ?`, micros(now), codeHash, micros(now))
	if err != nil {
		return store.RevocationCode{}, fmt.Errorf("sqlstore: redeem revocation code: %w", err)
	}
	r, err := scanRevCode(t.row(ctx, `SELECT `+revCodeCols+` FROM revocation_codes WHERE code_hash = ?`, codeHash))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrCodeUnknown
	}
	if err != nil {
		return r, fmt.Errorf("sqlstore: redeem revocation code: %w", err)
	}
	if n == 1 {
		return r, nil
	}
	switch r.Status {
	case store.CodeRedeemed:
		return r, store.ErrCodeUsed
	case store.CodeCancelled:
		return r, store.ErrCodeCancelled
	case store.CodePending:
		if _, err := t.exec(ctx, `UPDATE revocation_codes SET status = 'expired' WHERE id = ? AND status = 'pending'`, r.ID); err != nil {
			return r, fmt.Errorf("sqlstore: expire revocation code: %w", err)
		}
		r.Status = store.CodeExpired
	}
	return r, store.ErrCodeExpired
}

// ---- operators and tokens

const operatorCols = `id, name, role, disabled, created_at`

func scanOperator(sc scanner) (store.Operator, error) {
	var op store.Operator
	var disabled int
	var created int64
	err := sc.Scan(&op.ID, &op.Name, &op.Role, &disabled, &created)
	op.Disabled, op.CreatedAt = disabled != 0, fromMicros(created)
	return op, err
}

func (t *tx) Operator(ctx context.Context, id string) (store.Operator, error) {
	op, err := scanOperator(t.row(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, id))
	if err != nil {
		return op, notFound(err, "operator")
	}
	return op, nil
}

func (t *tx) OperatorByName(ctx context.Context, name string) (store.Operator, error) {
	op, err := scanOperator(t.row(ctx, `SELECT `+operatorCols+` FROM operators WHERE name = ?`, name))
	if err != nil {
		return op, notFound(err, "operator")
	}
	return op, nil
}

func (t *tx) ListOperators(ctx context.Context) ([]store.Operator, error) {
	rows, err := t.query(ctx, `SELECT `+operatorCols+` FROM operators ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: operators: %w", err)
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		op, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: operators: %w", err)
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

func (t *tx) CreateOperator(ctx context.Context, op *store.Operator) error {
	switch op.Role {
	case store.RoleAdmin, store.RoleRegistrar, store.RoleAuditor:
	default:
		return fmt.Errorf("create operator: unknown role %q: %w", op.Role, store.ErrInvalid)
	}
	id, err := newID()
	if err != nil {
		return err
	}
	op.ID, op.CreatedAt = id, op.CreatedAt.Truncate(time.Microsecond)
	n, err := t.exec(ctx, `INSERT INTO operators (`+operatorCols+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		op.ID, op.Name, string(op.Role), boolInt(op.Disabled), micros(op.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create operator: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create operator: name taken: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) SetOperatorDisabled(ctx context.Context, id string, disabled bool) error {
	n, err := t.exec(ctx, `UPDATE operators SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
	if err != nil {
		return fmt.Errorf("sqlstore: operator: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("operator: %w", store.ErrNotFound)
	}
	return nil
}

const tokenCols = `id, operator_id, hash, created_at, expires_at, revoked_at, allowed_cidrs`

func scanToken(sc scanner) (store.APIToken, error) {
	var tk store.APIToken
	var created, expires int64
	var revoked sql.NullInt64
	var cidrs string
	if err := sc.Scan(&tk.ID, &tk.OperatorID, &tk.Hash, &created, &expires, &revoked, &cidrs); err != nil {
		return tk, err
	}
	tk.CreatedAt, tk.ExpiresAt, tk.RevokedAt = fromMicros(created), fromMicros(expires), fromNull(revoked)
	for _, c := range strings.Fields(cidrs) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return tk, fmt.Errorf("stored CIDR: %w", err)
		}
		tk.AllowedCIDRs = append(tk.AllowedCIDRs, p)
	}
	return tk, nil
}

func (t *tx) APIToken(ctx context.Context, id string) (store.APIToken, error) {
	tk, err := scanToken(t.row(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return tk, notFound(err, "API token")
	}
	return tk, nil
}

func (t *tx) APITokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	tk, err := scanToken(t.row(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if err != nil {
		return tk, notFound(err, "API token")
	}
	return tk, nil
}

func (t *tx) ListAPITokens(ctx context.Context, operatorID string) ([]store.APIToken, error) {
	rows, err := t.query(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE operator_id = ? ORDER BY created_at, id`, operatorID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: API tokens: %w", err)
	}
	defer rows.Close()
	var out []store.APIToken
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: API tokens: %w", err)
		}
		out = append(out, tk)
	}
	return out, rows.Err()
}

func (t *tx) CreateAPIToken(ctx context.Context, tk *store.APIToken) error {
	if len(tk.Hash) < minHashLen {
		return fmt.Errorf("create API token: no hash: %w", store.ErrInvalid)
	}
	if _, err := t.Operator(ctx, tk.OperatorID); err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	tk.ID = id
	tk.CreatedAt, tk.ExpiresAt = tk.CreatedAt.Truncate(time.Microsecond), tk.ExpiresAt.Truncate(time.Microsecond)
	cidrs := make([]string, len(tk.AllowedCIDRs))
	for i, p := range tk.AllowedCIDRs {
		cidrs[i] = p.Masked().String()
		tk.AllowedCIDRs[i] = p.Masked()
	}
	n, err := t.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		tk.ID, tk.OperatorID, tk.Hash, micros(tk.CreatedAt), micros(tk.ExpiresAt), nullMicros(tk.RevokedAt),
		strings.Join(cidrs, " "))
	if err != nil {
		return fmt.Errorf("sqlstore: create API token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create API token: hash in use: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	n, err := t.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke API token: %w", err)
	}
	if n == 0 {
		if _, err := t.APIToken(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("revoke API token: already revoked: %w", store.ErrConflict)
	}
	return nil
}

// ---- single-use proofs

func (t *tx) UseProof(ctx context.Context, digest []byte, now, keepUntil time.Time) error {
	n, err := t.exec(ctx, `INSERT INTO used_proofs (digest, used_at, keep_until) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		digest, micros(now), micros(keepUntil))
	if err != nil {
		return fmt.Errorf("sqlstore: use proof: %w", err)
	}
	if n == 0 {
		return store.ErrProofReplayed
	}
	return nil
}

func (t *tx) PruneProofs(ctx context.Context, now time.Time) (int, error) {
	n, err := t.exec(ctx, `DELETE FROM used_proofs WHERE keep_until < ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: prune proofs: %w", err)
	}
	return int(n), nil
}

// ---- leases

func (t *tx) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("acquire lease: ttl %v: %w", ttl, store.ErrInvalid)
	}
	// One statement: insert, or take over only when the lease is ours or has
	// run out; the row count says which.
	n, err := t.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("sqlstore: acquire lease: %w", err)
	}
	return n == 1, nil
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlstore: release lease: %w", err)
	}
	return nil
}

// ---- CRLs

const crlCols = `number, kind, base_number, this_update, next_update, der`

func scanCRL(sc scanner) (store.CRL, error) {
	var c store.CRL
	var this, next int64
	err := sc.Scan(&c.Number, &c.Kind, &c.BaseNumber, &this, &next, &c.DER)
	c.ThisUpdate, c.NextUpdate = fromMicros(this), fromMicros(next)
	return c, err
}

func (t *tx) CRL(ctx context.Context, number int64) (store.CRL, error) {
	c, err := scanCRL(t.row(ctx, `SELECT `+crlCols+` FROM crls WHERE number = ?`, number))
	if err != nil {
		return c, notFound(err, "CRL")
	}
	return c, nil
}

func (t *tx) LatestCRL(ctx context.Context, kind store.CRLKind) (store.CRL, error) {
	c, err := scanCRL(t.row(ctx, `SELECT `+crlCols+` FROM crls WHERE kind = ? ORDER BY number DESC LIMIT 1`, string(kind)))
	if err != nil {
		return c, notFound(err, "CRL")
	}
	return c, nil
}

func (t *tx) OldestCurrentCRL(ctx context.Context, kind store.CRLKind, at time.Time) (store.CRL, error) {
	c, err := scanCRL(t.row(ctx, `SELECT `+crlCols+` FROM crls WHERE kind = ? AND next_update > ? ORDER BY number LIMIT 1`,
		string(kind), micros(at)))
	if err != nil {
		return c, notFound(err, "CRL")
	}
	return c, nil
}

func (t *tx) NextCRLNumber(ctx context.Context) (int64, error) {
	var n int64
	err := t.row(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'crl_number' RETURNING value`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: CRL number: %w", err)
	}
	return n, nil
}

func (t *tx) InsertCRL(ctx context.Context, c *store.CRL) error {
	var last int64
	if err := t.row(ctx, `SELECT value FROM counters WHERE name = 'crl_number'`).Scan(&last); err != nil {
		return fmt.Errorf("sqlstore: insert CRL: %w", err)
	}
	if c.Number <= 0 || c.Number > last {
		return fmt.Errorf("insert CRL: number %d was not taken from NextCRLNumber: %w", c.Number, store.ErrInvalid)
	}
	if (c.Kind == store.CRLDelta) != (c.BaseNumber > 0) || (c.Kind != store.CRLDelta && c.Kind != store.CRLFull) {
		return fmt.Errorf("insert CRL: kind %q with base %d: %w", c.Kind, c.BaseNumber, store.ErrInvalid)
	}
	c.ThisUpdate, c.NextUpdate = c.ThisUpdate.Truncate(time.Microsecond), c.NextUpdate.Truncate(time.Microsecond)
	n, err := t.exec(ctx, `INSERT INTO crls (`+crlCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.Number, string(c.Kind), c.BaseNumber, micros(c.ThisUpdate), micros(c.NextUpdate), c.DER)
	if err != nil {
		return fmt.Errorf("sqlstore: insert CRL: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("insert CRL: number %d used: %w", c.Number, store.ErrConflict)
	}
	return nil
}

// ---- audit

func (t *tx) AuditHead(ctx context.Context) (uint64, []byte, error) {
	var seq int64
	var hash []byte
	if err := t.row(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, nil, fmt.Errorf("sqlstore: audit head: %w", err)
	}
	return uint64(seq), hash, nil
}

const auditCols = `seq, time, actor, action, object, details, prev_hash, hash`

func (t *tx) AuditRecords(ctx context.Context, from uint64, n int) ([]store.AuditRecord, error) {
	if n <= 0 {
		n = 1000
	}
	rows, err := t.query(ctx, `SELECT `+auditCols+` FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?`, int64(from), n)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit records: %w", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var seq, tm int64
		if err := rows.Scan(&seq, &tm, &r.Actor, &r.Action, &r.Object, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlstore: audit records: %w", err)
		}
		r.Seq, r.Time = uint64(seq), fromMicros(tm)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) NextAuditSlot(ctx context.Context) (uint64, []byte, error) {
	// The no-op UPDATE takes the head's row lock on PostgreSQL, so a second
	// appender waits here until this transaction ends, then reads the new
	// head. On SQLite the write transaction already excludes other writers.
	var seq int64
	var hash []byte
	if err := t.row(ctx, `UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &hash); err != nil {
		return 0, nil, fmt.Errorf("sqlstore: audit slot: %w", err)
	}
	return uint64(seq) + 1, hash, nil
}

func (t *tx) AppendAudit(ctx context.Context, r *store.AuditRecord) error {
	seq, hash, err := t.AuditHead(ctx)
	if err != nil {
		return err
	}
	if r.Seq != seq+1 || string(r.PrevHash) != string(hash) {
		return fmt.Errorf("append audit %d after %d: %w", r.Seq, seq, store.ErrAuditBroken)
	}
	r.Time = r.Time.Truncate(time.Microsecond)
	prev := r.PrevHash
	if prev == nil {
		prev = []byte{}
	}
	details := r.Details
	if details == nil {
		details = []byte{}
	}
	if _, err := t.exec(ctx, `INSERT INTO audit_records (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(r.Seq), micros(r.Time), r.Actor, r.Action, r.Object, details, prev, r.Hash); err != nil {
		return fmt.Errorf("sqlstore: append audit: %w", err)
	}
	n, err := t.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`, int64(r.Seq), r.Hash, int64(seq))
	if err != nil {
		return fmt.Errorf("sqlstore: append audit: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("append audit %d: head moved: %w", r.Seq, store.ErrAuditBroken)
	}
	return nil
}

func (t *tx) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := t.query(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		var c store.Checkpoint
		var seq, tm int64
		if err := rows.Scan(&seq, &c.Hash, &tm, &c.KeyID, &c.Signature); err != nil {
			return nil, fmt.Errorf("sqlstore: checkpoints: %w", err)
		}
		c.Seq, c.Time = uint64(seq), fromMicros(tm)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) InsertCheckpoint(ctx context.Context, c *store.Checkpoint) error {
	c.Time = c.Time.Truncate(time.Microsecond)
	n, err := t.exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, int64(c.Seq), c.Hash, micros(c.Time), c.KeyID, c.Signature)
	if err != nil {
		return fmt.Errorf("sqlstore: insert checkpoint: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("insert checkpoint %d: exists: %w", c.Seq, store.ErrConflict)
	}
	return nil
}
