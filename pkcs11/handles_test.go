package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// TestHandleCacheStub: the private key is looked up once, not per
// signature; the cache is dropped when the token is pulled, and a cached
// handle that went stale (another process replaced the object) or that
// names another key by now is looked up again.
func TestHandleCacheStub(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	digest := gost.Sum256([]byte("x"))
	sign := func(what string) {
		t.Helper()
		sig, err := key.Sign(nil, digest[:], nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !key.Public().(*gost.PublicKey).Verify(digest[:], sig) {
			t.Fatalf("%s: signature does not verify", what)
		}
	}
	finds := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.findCalls
	}

	sign("first signature")
	before := finds()
	for range 5 {
		sign("cached")
	}
	if got := finds(); got != before {
		t.Fatalf("5 signatures made %d C_FindObjects calls, want 0 (cached handle)", got-before)
	}

	// Pulled and put back while idle: the handle is looked up again.
	st.remove(0)
	st.insert(0)
	sign("after re-insertion")
	if finds() == before {
		t.Fatal("no lookup after the token was pulled")
	}

	// Another process deletes the key object and stores it again under a
	// new handle: the cached handle is invalid, and C_SignInit says so.
	st.mu.Lock()
	sl := st.slots[0]
	old := privateObject(t, sl)
	moved := st.newObject(sl, sl.objects[old])
	sl.secrets[moved] = sl.secrets[old]
	delete(sl.objects, old)
	delete(sl.secrets, old)
	st.mu.Unlock()
	before = finds()
	sign("after the object moved")
	if finds() == before {
		t.Fatal("a stale handle was not looked up again")
	}

	// The old handle now names another key: the signature fails its
	// check (never released), and the next one looks the key up again.
	other, err := gost.GenerateKey(gost.CurveTC26256A, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	cur := privateObject(t, sl)
	again := st.newObject(sl, sl.objects[cur])
	sl.secrets[again] = sl.secrets[cur]
	sl.objects[cur] = []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, []byte("someone else")),
	}
	sl.secrets[cur] = other
	st.mu.Unlock()
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("signing through a handle that names another key: %v, want ErrInvalidSignature", err)
	}
	sign("after the wrong key was refused")

	// Objects destroyed through the token drop the cache too.
	if err := tok.DeleteKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("signing with a deleted key: %v, want ErrNotFound", err)
	}
}

// privateObject is the handle of the stub slot's one GOST private key
// with a CKA_ID of 16 bytes (the generated key); caller holds st.mu.
func privateObject(t *testing.T, sl *stubSlot) p11.ObjectHandle {
	t.Helper()
	var found []p11.ObjectHandle
	for h, attrs := range sl.objects {
		class, _ := attr(attrs, p11.CKA_CLASS)
		id, _ := attr(attrs, p11.CKA_ID)
		if ulong(class) == p11.CKO_PRIVATE_KEY && len(id) == 16 {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d generated private keys in the stub", len(found))
	}
	return found[0]
}

// TestSignDigestVerifiesOnce: pki.SignDigest leaves the check to the token
// layer, which still refuses a bad signature.
func TestSignDigestVerifiesOnce(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256B})
	if err != nil {
		t.Fatal(err)
	}
	var s crypto.Signer = key
	if v, ok := s.(pki.VerifyingSigner); !ok || !v.VerifiesSignatures() {
		t.Fatal("*Key does not declare that it verifies its signatures")
	}
	digest := gost.Sum256([]byte("x"))
	sig, err := pki.SignDigest(nil, key, pki.GOST256, digest[:])
	if err != nil || !key.Public().(*gost.PublicKey).Verify(digest[:], sig) {
		t.Fatalf("SignDigest: %v", err)
	}
	st.corrupt = true
	if sig, err := pki.SignDigest(nil, key, pki.GOST256, digest[:]); !errors.Is(err, ErrInvalidSignature) || sig != nil {
		t.Fatalf("SignDigest with a token returning bad signatures: %x, %v; want ErrInvalidSignature", sig, err)
	}
}

// countingCtx counts C_FindObjectsInit calls of a real module.
type countingCtx struct {
	cryptoki
	finds atomic.Int64
}

func (c *countingCtx) FindObjectsInit(sh p11.SessionHandle, temp []*p11.Attribute) error {
	c.finds.Add(1)
	return c.cryptoki.FindObjectsInit(sh, temp)
}

// TestHandleCacheSofttokenRemoval: on the softtoken, signatures reuse the
// cached handle; pulling the token (<tokendir>/.removed) drops the cache,
// signing fails while it is out, and after it is back the key is looked up
// again and signs.
func TestHandleCacheSofttokenRemoval(t *testing.T) {
	path := softtoken(t)
	ctx := context.Background()
	m, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	counter := &countingCtx{cryptoki: m.lib.ctx}
	m.lib.ctx = counter
	tok, err := m.InitToken(ctx, "cache test", NewPIN([]byte(testSOPIN)), NewPIN([]byte(testUserPIN)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN(testUserPIN)); err != nil {
		t.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	signAndCheck(t, key)
	before := counter.finds.Load()
	for range 3 {
		signAndCheck(t, key)
	}
	if got := counter.finds.Load() - before; got != 0 {
		t.Fatalf("3 signatures made %d C_FindObjectsInit calls, want 0", got)
	}

	pull(t, tok, false)
	if err := signCheck(key); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("signing with the token out: %v, want ErrTokenNotPresent", err)
	}
	tok.handleMu.Lock()
	left := len(tok.handles.byRef)
	tok.handleMu.Unlock()
	if left != 0 {
		t.Fatalf("%d handles still cached after the token was pulled", left)
	}
	pull(t, tok, true)
	before = counter.finds.Load()
	signAndCheck(t, key)
	if counter.finds.Load() == before {
		t.Fatal("the key was not looked up again after re-insertion")
	}
}
