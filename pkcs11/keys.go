package pkcs11

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// Key is a key pair on a token: its private key object, the public key
// and the certificate that share its CKA_ID. A Key is a crypto.Signer;
// Public returns a *gost.PublicKey or an *ecdsa.PublicKey.
type Key struct {
	token      *Token
	label      string
	id         []byte
	pub        crypto.PublicKey // nil when the token shows no public key for it
	private    bool             // the private key object was seen
	alwaysAuth bool             // CKA_ALWAYS_AUTHENTICATE

	// certMu guards cert, which ImportCertificate and DeleteCertificate
	// change while other goroutines may read it.
	certMu sync.Mutex
	cert   []byte // DER, nil when there is none
}

var (
	_ crypto.Signer       = (*Key)(nil)
	_ pki.VerifyingSigner = (*Key)(nil)
)

// Token is the token holding the key.
func (k *Key) Token() *Token { return k.token }

// Label is the key's CKA_LABEL.
func (k *Key) Label() string { return k.label }

// ID is the key's CKA_ID, which its public key and certificate share.
func (k *Key) ID() []byte { return bytes.Clone(k.id) }

// Public is the public key: *gost.PublicKey or *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Certificate is the DER certificate stored with the key, or nil.
func (k *Key) Certificate() []byte {
	k.certMu.Lock()
	defer k.certMu.Unlock()
	return bytes.Clone(k.cert)
}

func (k *Key) setCertificate(der []byte) {
	k.certMu.Lock()
	defer k.certMu.Unlock()
	k.cert = der
}

// HasPrivateKey reports whether the private key object was seen. Private
// keys are private objects, visible only after Login; before that a key
// is listed from its public key or certificate and cannot sign.
func (k *Key) HasPrivateKey() bool { return k.private }

// URI names the key: the token's attributes plus object and id.
func (k *Key) URI() *URI {
	u := k.token.URI()
	u.Object, u.ID, u.Type = k.label, bytes.Clone(k.id), "private"
	return u
}

// KeySpec says what key GenerateKey makes. Exactly one of Curve and
// ECDSA is set.
type KeySpec struct {
	Label string
	// ID is the CKA_ID shared by the key pair and, later, its certificate.
	// Empty means 16 random bytes.
	ID []byte
	// Curve makes a GOST R 34.10-2012 key on this parameter set (256 or 512).
	Curve *gost.Curve
	// ECDSA makes an ECDSA key on this curve (P-256, P-384 or P-521).
	ECDSA elliptic.Curve
}

// GenerateKey makes a key pair on the token, logging in first if needed.
// The private key is a token object, private, sensitive, not extractable
// and can only sign. A key whose label is already taken is refused, so
// that labels keep naming one key. A pair whose public key the token
// reports unusably (off the curve, unknown parameters) is destroyed again
// and GenerateKey fails.
func (t *Token) GenerateKey(ctx context.Context, spec KeySpec) (*Key, error) {
	if spec.Label == "" {
		return nil, errors.New("pkcs11: GenerateKey: empty label")
	}
	id := spec.ID
	if len(id) == 0 {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
	}
	common := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_LABEL, spec.Label),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	var mech uint
	var pubT, privT []*p11.Attribute
	switch {
	case spec.Curve != nil && spec.ECDSA == nil:
		keyType := uint(CKK_GOSTR3410)
		mech = CKM_GOSTR3410_KEY_PAIR_GEN
		if spec.Curve.Size() == gost.Size512 {
			keyType, mech = CKK_GOSTR3410_512, CKM_GOSTR3410_512_KEY_PAIR_GEN
		}
		params := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_KEY_TYPE, keyType),
			p11.NewAttribute(CKA_GOSTR3410_PARAMS, derOID(spec.Curve.OID)),
			p11.NewAttribute(CKA_GOSTR3411_PARAMS, derOID(spec.Curve.Hash.DigestOID())),
		}
		pubT = append(slices.Clone(params), p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY))
		privT = append(slices.Clone(params), p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY))
	case spec.ECDSA != nil && spec.Curve == nil:
		oid, ok := ecCurveOID(spec.ECDSA)
		if !ok {
			return nil, fmt.Errorf("pkcs11: GenerateKey: ECDSA curve %s not supported", spec.ECDSA.Params().Name)
		}
		mech = p11.CKM_EC_KEY_PAIR_GEN
		pubT = []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, derOID(oid)),
		}
		privT = []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
		}
	default:
		return nil, errors.New("pkcs11: GenerateKey: set exactly one of KeySpec.Curve and KeySpec.ECDSA")
	}
	pubT = append(append(pubT, common...),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_VERIFY, true))
	privT = append(append(privT, common...),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true))
	if err := t.requireMechanism(mech, p11.CKF_GENERATE_KEY_PAIR); err != nil {
		return nil, err
	}
	key := &Key{token: t, label: spec.Label, id: id, private: true}
	err := t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		taken, err := t.findObjects(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, spec.Label)})
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			return fmt.Errorf("pkcs11: token %q already has an object labelled %q", t.label(), spec.Label)
		}
		pubH, privH, err := t.mod.lib.ctx.GenerateKeyPair(s, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, pubT, privT)
		t.forgetHandles()
		if err != nil {
			return t.call("C_GenerateKeyPair", err)
		}
		if err := t.readGenerated(s, key, pubH, privH); err != nil {
			// Every signature is checked against the public key, so a
			// pair whose public key cannot be read could never sign: it
			// is not left behind under the label.
			_ = t.destroy(s, []p11.ObjectHandle{pubH, privH})
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// readGenerated fills key from the key pair C_GenerateKeyPair just made.
func (t *Token) readGenerated(s p11.SessionHandle, key *Key, pubH, privH p11.ObjectHandle) error {
	attrs, err := t.attributes(s, pubH, publicAttributes...)
	if err != nil {
		return err
	}
	if key.pub, err = publicKey(attrs); err != nil {
		return err
	}
	// A token may demand the PIN for every signature by its own policy.
	priv, err := t.attributes(s, privH, p11.CKA_ALWAYS_AUTHENTICATE)
	key.alwaysAuth = boolAttr(priv[p11.CKA_ALWAYS_AUTHENTICATE])
	return err
}

var publicAttributes = []uint{p11.CKA_KEY_TYPE, p11.CKA_VALUE, CKA_GOSTR3410_PARAMS, p11.CKA_EC_PARAMS, p11.CKA_EC_POINT}

// Keys lists the token's keys with their certificates, matched by CKA_ID,
// ordered by label. Private keys are listed only after Login; without it
// the keys are found by their public keys and certificates, and
// HasPrivateKey reports false. Keys never triggers a login.
func (t *Token) Keys(ctx context.Context) ([]*Key, error) {
	var keys []*Key
	err := t.do(ctx, func(s p11.SessionHandle) error {
		var err error
		keys, err = t.keys(s)
		return err
	})
	return keys, err
}

func (t *Token) keys(s p11.SessionHandle) ([]*Key, error) {
	// Objects pair up by CKA_ID; objects without one (made by other
	// software) pair up by label instead.
	byID := map[string]*Key{}
	var order []*Key
	get := func(id []byte, label string) *Key {
		ref := "id:" + string(id)
		if len(id) == 0 {
			ref = "label:" + label
		}
		k := byID[ref]
		if k == nil {
			k = &Key{token: t, id: id, label: label}
			byID[ref] = k
			order = append(order, k)
		}
		if k.label == "" {
			k.label = label
		}
		return k
	}
	class := func(c uint) []*p11.Attribute {
		return []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, c)}
	}
	privs, err := t.findObjects(s, class(p11.CKO_PRIVATE_KEY))
	if err != nil {
		return nil, err
	}
	for _, h := range privs {
		a, err := t.attributes(s, h, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_ALWAYS_AUTHENTICATE, p11.CKA_KEY_TYPE, CKA_GOSTR3410_PARAMS)
		if err != nil {
			return nil, err
		}
		k := get(a[p11.CKA_ID], string(a[p11.CKA_LABEL]))
		k.private = true
		k.alwaysAuth = boolAttr(a[p11.CKA_ALWAYS_AUTHENTICATE])
	}
	pubs, err := t.findObjects(s, class(p11.CKO_PUBLIC_KEY))
	if err != nil {
		return nil, err
	}
	for _, h := range pubs {
		a, err := t.attributes(s, h, append([]uint{p11.CKA_ID, p11.CKA_LABEL}, publicAttributes...)...)
		if err != nil {
			return nil, err
		}
		k := get(a[p11.CKA_ID], string(a[p11.CKA_LABEL]))
		if pub, err := publicKey(a); err == nil {
			k.pub = pub
		}
	}
	certs, err := t.findObjects(s, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
	})
	if err != nil {
		return nil, err
	}
	for _, h := range certs {
		a, err := t.attributes(s, h, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_VALUE)
		if err != nil {
			return nil, err
		}
		if len(a[p11.CKA_ID]) == 0 {
			continue // certificates belong to keys by CKA_ID only
		}
		k := byID["id:"+string(a[p11.CKA_ID])]
		if k == nil {
			continue // a certificate without a key here, e.g. a CA's
		}
		k.cert = a[p11.CKA_VALUE]
		if k.pub == nil {
			if f, err := parseCertificateFields(k.cert); err == nil {
				if pub, err := pki.ParsePublicKey(f.spki); err == nil {
					k.pub = pub
				}
			}
		}
	}
	slices.SortStableFunc(order, func(a, b *Key) int {
		return cmp.Or(strings.Compare(a.label, b.label), bytes.Compare(a.id, b.id))
	})
	return order, nil
}

// FindKey picks one key by label or by a pkcs11: URI (object, id and type
// "private" are used; the token attributes must match this token).
func (t *Token) FindKey(ctx context.Context, ref string) (*Key, error) {
	u := &URI{Object: ref}
	if strings.HasPrefix(ref, uriScheme) {
		var err error
		if u, err = ParseURI(ref); err != nil {
			return nil, err
		}
		if !u.MatchToken(t.Info()) {
			return nil, fmt.Errorf("%w: %s names another token than %q", ErrNotFound, ref, t.label())
		}
	}
	return t.findKey(ctx, u)
}

func (t *Token) findKey(ctx context.Context, u *URI) (*Key, error) {
	if u.Type != "" && u.Type != "private" && u.Type != "public" && u.Type != "cert" {
		return nil, fmt.Errorf("%w: %s is not a key", ErrNotFound, u)
	}
	keys, err := t.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var found []*Key
	for _, k := range keys {
		if u.matchObject(k.label, k.id) {
			found = append(found, k)
		}
	}
	name := u.Object
	if name == "" {
		name = "id " + hex.EncodeToString(u.ID)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no key %q on token %q", ErrNotFound, name, t.label())
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %d keys match %q on token %q", ErrAmbiguous, len(found), name, t.label())
}

// Sign signs a digest with the key; see SignContext.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext signs a digest on the token, logging in through the token's
// PIN prompt if needed (ctx reaches the prompt and bounds the wait for a
// session). The signature is verified with the public key before it is
// returned.
//
// GOST keys: digest is the Streebog digest as the hash outputs it
// (len Curve.Hash.Size()); opts is nil or a *gost.SignerOpts naming the
// curve's hash; the signature is s ‖ r as gost.PublicKey.Verify takes it.
// The digest is sent to C_Sign (CKM_GOSTR3410 or CKM_GOSTR3410_512) in
// the module's Options.GOSTDigestOrder.
//
// ECDSA keys: digest is the hash named by opts.HashFunc(); the signature
// is ASN.1 DER, as crypto/ecdsa returns it.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var mech uint
	var input []byte
	var finish func(raw []byte) ([]byte, error)
	switch pub := k.pub.(type) {
	case *gost.PublicKey:
		h := pub.Curve.Hash
		if opts != nil {
			o, ok := opts.(*gost.SignerOpts)
			if !ok || (o != nil && o.Hash != h) {
				return nil, fmt.Errorf("pkcs11: GOST key signs with %s; opts must be nil or *gost.SignerOpts{Hash: %s}", h, h)
			}
		}
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("pkcs11: GOST digest is %d bytes, want %d", len(digest), h.Size())
		}
		mech = CKM_GOSTR3410
		if h.Size() == gost.Size512 {
			mech = CKM_GOSTR3410_512
		}
		input = bytes.Clone(digest)
		if k.token.mod.opts.GOSTDigestOrder == DigestReversed {
			slices.Reverse(input)
		}
		finish = func(sig []byte) ([]byte, error) {
			if !pub.Verify(digest, sig) {
				return nil, fmt.Errorf("%w (key %q, digest order %s)", ErrInvalidSignature, k.label, k.token.mod.opts.GOSTDigestOrder)
			}
			return sig, nil
		}
	case *ecdsa.PublicKey:
		if opts == nil || opts.HashFunc() == 0 {
			return nil, errors.New("pkcs11: ECDSA signing needs opts naming the hash")
		}
		if len(digest) != opts.HashFunc().Size() {
			return nil, fmt.Errorf("pkcs11: digest is %d bytes, want %d for %s", len(digest), opts.HashFunc().Size(), opts.HashFunc())
		}
		mech, input = p11.CKM_ECDSA, digest
		finish = func(raw []byte) ([]byte, error) {
			sig, err := ecdsaDER(raw)
			if err != nil {
				return nil, err
			}
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				return nil, fmt.Errorf("%w (key %q)", ErrInvalidSignature, k.label)
			}
			return sig, nil
		}
	case nil:
		return nil, fmt.Errorf("pkcs11: key %q has no public key on the token, so its signatures cannot be checked", k.label)
	default:
		return nil, fmt.Errorf("pkcs11: key %q: unsupported public key %T", k.label, pub)
	}
	t := k.token
	var raw []byte
	var cached bool // the handle signed with came from the cache
	err := t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		var h p11.ObjectHandle
		var err error
		h, cached, err = k.privateHandle(s)
		if err != nil {
			return err
		}
		c := t.mod.lib.ctx
		m := []*p11.Mechanism{p11.NewMechanism(mech, nil)}
		err = c.SignInit(s, m, h)
		if cached && staleHandle(err) {
			// Objects changed behind our back: look the key up again.
			t.forgetHandles()
			if h, cached, err = k.privateHandle(s); err != nil {
				return err
			}
			err = c.SignInit(s, m, h)
		}
		if err != nil {
			if rv, _ := rvCode(err); rv == p11.CKR_MECHANISM_INVALID {
				return &MechanismError{Token: t.label(), Mechanism: mech}
			}
			return t.call("C_SignInit", err)
		}
		if k.alwaysAuth {
			if err := t.contextLogin(ctx, s); err != nil {
				return err
			}
		}
		if t.beforeSign != nil {
			t.beforeSign()
		}
		raw, err = c.Sign(s, input)
		return t.call("C_Sign", err)
	})
	if err != nil {
		return nil, err
	}
	sig, err := finish(raw)
	if err != nil && cached {
		// A cached handle may name another key by now (objects replaced
		// by another process); the next signature looks it up afresh.
		t.forgetHandles()
	}
	return sig, err
}

// VerifiesSignatures reports true: SignContext verifies every signature
// the token returns against the public key before returning it, so
// callers such as pki.SignDigest need not verify it again.
func (k *Key) VerifiesSignatures() bool { return true }

// privateHandle returns the handle of the private key, from the token's
// cache (cached is true) or looked up in this session and cached (see
// handles.go for when the cache is dropped).
func (k *Key) privateHandle(s p11.SessionHandle) (h p11.ObjectHandle, cached bool, err error) {
	t := k.token
	ref := k.handleRef()
	h, ok, epoch := t.cachedHandle(ref)
	if ok {
		return h, true, nil
	}
	if h, err = k.findPrivateHandle(s); err != nil {
		return 0, false, err
	}
	t.storeHandle(ref, h, epoch)
	return h, false, nil
}

// findPrivateHandle looks the private key up with C_FindObjects.
func (k *Key) findPrivateHandle(s p11.SessionHandle) (p11.ObjectHandle, error) {
	t := k.token
	template := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}
	if len(k.id) > 0 {
		template = append(template, p11.NewAttribute(p11.CKA_ID, k.id))
	} else {
		template = append(template, p11.NewAttribute(p11.CKA_LABEL, k.label))
	}
	hs, err := t.findObjects(s, template)
	if err != nil {
		return 0, err
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%w: private key %q on token %q", ErrNotFound, k.label, t.label())
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("%w: %d private keys share the CKA_ID of %q", ErrAmbiguous, len(hs), k.label)
}

// contextLogin answers a CKA_ALWAYS_AUTHENTICATE key's demand for the PIN
// between C_SignInit and C_Sign.
func (t *Token) contextLogin(ctx context.Context, s p11.SessionHandle) error {
	t.mu.Lock()
	prompt := t.prompt
	t.mu.Unlock()
	if prompt == nil {
		return fmt.Errorf("%w: key needs the PIN for each signature", ErrLoginRequired)
	}
	t.loginMu.Lock()
	defer t.loginMu.Unlock()
	return t.login(ctx, s, ContextSpecific, prompt)
}

// ecdsaDER turns PKCS#11's r ‖ s into the ASN.1 SEQUENCE crypto.Signer
// callers expect.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("pkcs11: ECDSA signature of odd length %d", len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(raw[:len(raw)/2]),
		new(big.Int).SetBytes(raw[len(raw)/2:]),
	})
}

// ImportCertificate stores a DER certificate on the token beside key
// (same CKA_ID and CKA_LABEL), after checking that it certifies key's
// public key. A certificate already stored for the key is replaced.
func (t *Token) ImportCertificate(ctx context.Context, key *Key, der []byte) error {
	f, err := parseCertificateFields(der)
	if err != nil {
		return err
	}
	if key.pub != nil {
		certPub, err := pki.ParsePublicKey(f.spki)
		if err != nil {
			return err
		}
		eq, ok := key.pub.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !eq.Equal(certPub) {
			return fmt.Errorf("pkcs11: the certificate is not for key %q", key.label)
		}
	}
	template := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_LABEL, key.label),
		p11.NewAttribute(p11.CKA_ID, key.id),
		p11.NewAttribute(p11.CKA_SUBJECT, f.subject),
		p11.NewAttribute(p11.CKA_ISSUER, f.issuer),
		p11.NewAttribute(p11.CKA_SERIAL_NUMBER, f.serial),
		p11.NewAttribute(p11.CKA_VALUE, der),
	}
	err = t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		old, err := t.certificateHandles(s, key)
		if err != nil {
			return err
		}
		if _, err := t.mod.lib.ctx.CreateObject(s, template); err != nil {
			return t.call("C_CreateObject", err)
		}
		return t.destroy(s, old)
	})
	if err == nil {
		key.setCertificate(bytes.Clone(der))
	}
	return err
}

// DeleteCertificate removes the certificates stored with key.
func (t *Token) DeleteCertificate(ctx context.Context, key *Key) error {
	err := t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		hs, err := t.certificateHandles(s, key)
		if err != nil {
			return err
		}
		return t.destroy(s, hs)
	})
	if err == nil {
		key.setCertificate(nil)
	}
	return err
}

// RelabelKey gives key, its public key and its certificates (the objects
// sharing its CKA_ID) a new label. A label already taken on the token is
// refused, so that labels keep naming one key.
func (t *Token) RelabelKey(ctx context.Context, key *Key, label string) error {
	if label == "" {
		return errors.New("pkcs11: RelabelKey: empty label")
	}
	if len(key.id) == 0 {
		return fmt.Errorf("pkcs11: key %q has no CKA_ID; not relabelling by label alone", key.label)
	}
	err := t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		taken, err := t.findObjects(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)})
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			return fmt.Errorf("pkcs11: token %q already has an object labelled %q", t.label(), label)
		}
		hs, err := t.findObjects(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, key.id)})
		if err != nil {
			return err
		}
		for _, h := range hs {
			if err := t.mod.lib.ctx.SetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
				return t.call("C_SetAttributeValue", err)
			}
		}
		return nil
	})
	if err == nil {
		key.label = label
		t.forgetHandles()
	}
	return err
}

// DeleteKey removes the key pair and its certificates from the token.
func (t *Token) DeleteKey(ctx context.Context, key *Key) error {
	if len(key.id) == 0 {
		return fmt.Errorf("pkcs11: key %q has no CKA_ID; not deleting by label alone", key.label)
	}
	return t.do(ctx, func(s p11.SessionHandle) error {
		if err := t.ensureLogin(ctx, s, nil); err != nil {
			return err
		}
		hs, err := t.findObjects(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, key.id)})
		if err != nil {
			return err
		}
		return t.destroy(s, hs)
	})
}

func (t *Token) certificateHandles(s p11.SessionHandle, key *Key) ([]p11.ObjectHandle, error) {
	if len(key.id) == 0 {
		return nil, fmt.Errorf("pkcs11: key %q has no CKA_ID to match a certificate by", key.label)
	}
	return t.findObjects(s, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_ID, key.id),
	})
}

func (t *Token) destroy(s p11.SessionHandle, hs []p11.ObjectHandle) error {
	// A destroyed handle may be given to a new object.
	defer t.forgetHandles()
	for _, h := range hs {
		if err := t.mod.lib.ctx.DestroyObject(s, h); err != nil {
			return t.call("C_DestroyObject", err)
		}
	}
	return nil
}
