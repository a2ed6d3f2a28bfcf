package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// Test keys are made once per test binary: RSA and 512-bit GOST key
// generation is slow enough to matter under -race on two cores.
var (
	testKeysOnce sync.Once
	testKeys     map[string]crypto.Signer
)

func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	testKeysOnce.Do(func() {
		testKeys = map[string]crypto.Signer{}
		for _, h := range []gost.Hash{gost.Streebog256, gost.Streebog512} {
			c := firstCurve(h)
			if c == nil {
				continue
			}
			k, err := gost.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			testKeys[h.String()] = k
		}
		for name, c := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			testKeys[name] = k
		}
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKeys["rsa"] = k
	})
	k, ok := testKeys[name]
	if !ok {
		t.Fatalf("no test key %q (gost.Curves has no curve for it?)", name)
	}
	return k
}

func firstCurve(h gost.Hash) *gost.Curve {
	for _, c := range gost.Curves() {
		if c.Hash == h {
			return c
		}
	}
	return nil
}

func TestAlgorithmIdentifierBytes(t *testing.T) {
	tests := []struct {
		alg  SignatureAlgorithm
		want string
	}{
		{GOST256, "300a06082a85030701010302"},
		{GOST512, "300a06082a85030701010303"},
		{ECDSAWithSHA256, "300a06082a8648ce3d040302"},
		{ECDSAWithSHA384, "300a06082a8648ce3d040303"},
		{ECDSAWithSHA512, "300a06082a8648ce3d040304"},
		{SHA256WithRSA, "300d06092a864886f70d01010b0500"},
		{SHA384WithRSA, "300d06092a864886f70d01010c0500"},
		{SHA512WithRSA, "300d06092a864886f70d01010d0500"},
	}
	for _, tt := range tests {
		der, err := asn1.Marshal(tt.alg.AlgorithmIdentifier())
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(der); got != tt.want {
			t.Errorf("%v: AlgorithmIdentifier = %s, want %s", tt.alg, got, tt.want)
		}
		var ai pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(der, &ai); err != nil {
			t.Fatal(err)
		}
		if got, err := SignatureAlgorithmFromAI(ai); err != nil || got != tt.alg {
			t.Errorf("%v: SignatureAlgorithmFromAI(own encoding) = %v, %v", tt.alg, got, err)
		}
	}
}

func TestSignatureAlgorithmFromAI(t *testing.T) {
	tests := []struct {
		name string
		der  string
		want SignatureAlgorithm // Unknown: an error is expected
	}{
		{"GOST256 absent (RFC 9215)", "300a06082a85030701010302", GOST256},
		{"GOST256 NULL (OpenSSL)", "300c06082a850307010103020500", GOST256},
		{"GOST512 NULL (OpenSSL)", "300c06082a850307010103030500", GOST512},
		{"GOST256 with an OID parameter", "301606082a85030701010302060a2a850307010102010101", UnknownSignatureAlgorithm},
		{"RSA without NULL", "300b06092a864886f70d01010b", SHA256WithRSA},
		{"ECDSA with NULL", "300c06082a8648ce3d0403020500", UnknownSignatureAlgorithm},
		{"GOST 2001 (unsupported)", "300806062a8503020203", UnknownSignatureAlgorithm},
		{"GOST256 with an end-of-contents parameter", "300c06082a850307010103020000", UnknownSignatureAlgorithm},
		{"Streebog digest OID is no signature", "300a06082a85030701010202", UnknownSignatureAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, _ := hex.DecodeString(tt.der)
			var ai pkix.AlgorithmIdentifier
			if _, err := asn1.Unmarshal(der, &ai); err != nil {
				t.Fatalf("test DER does not parse: %v", err)
			}
			got, err := SignatureAlgorithmFromAI(ai)
			if tt.want == UnknownSignatureAlgorithm {
				if err == nil || !errors.Is(err, ErrUnsupportedAlgorithm) {
					t.Fatalf("got %v, %v; want an ErrUnsupportedAlgorithm", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDigestOIDAndHash(t *testing.T) {
	tests := []struct {
		alg  SignatureAlgorithm
		oid  string
		size int
	}{
		{GOST256, "1.2.643.7.1.1.2.2", 32},
		{GOST512, "1.2.643.7.1.1.2.3", 64},
		{ECDSAWithSHA384, "2.16.840.1.101.3.4.2.2", 48},
		{SHA512WithRSA, "2.16.840.1.101.3.4.2.3", 64},
	}
	for _, tt := range tests {
		if got := tt.alg.DigestOID().String(); got != tt.oid {
			t.Errorf("%v: DigestOID = %s, want %s", tt.alg, got, tt.oid)
		}
		if got := tt.alg.NewHash().Size(); got != tt.size || tt.alg.HashSize() != tt.size {
			t.Errorf("%v: hash size %d/%d, want %d", tt.alg, got, tt.alg.HashSize(), tt.size)
		}
	}
	if UnknownSignatureAlgorithm.NewHash() != nil || UnknownSignatureAlgorithm.DigestOID() != nil {
		t.Error("unknown algorithm has a hash")
	}
}

func TestSignAndCheck(t *testing.T) {
	tests := []struct {
		key string
		alg SignatureAlgorithm
	}{
		{"streebog256", GOST256},
		{"streebog512", GOST512},
		{"p256", ECDSAWithSHA256},
		{"p384", ECDSAWithSHA384},
		{"p521", ECDSAWithSHA512},
		{"p256", ECDSAWithSHA384},
		{"rsa", SHA256WithRSA},
		{"rsa", SHA384WithRSA},
		{"rsa", SHA512WithRSA},
	}
	msg := []byte("Се ветри, Стрибожи внуци")
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.alg.String(), func(t *testing.T) {
			k := testKey(t, tt.key)
			sig, err := Sign(rand.Reader, k, tt.alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.alg.IsGOST() && len(sig) != 2*tt.alg.HashSize() {
				t.Errorf("GOST signature is %d bytes, want %d", len(sig), 2*tt.alg.HashSize())
			}
			if err := CheckSignature(tt.alg, msg, sig, k.Public()); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			bad := append([]byte(nil), msg...)
			bad[0] ^= 1
			if err := CheckSignature(tt.alg, bad, sig, k.Public()); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("altered message: %v, want ErrInvalidSignature", err)
			}
			badSig := append([]byte(nil), sig...)
			badSig[len(badSig)-1] ^= 1
			if err := CheckSignature(tt.alg, msg, badSig, k.Public()); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("altered signature: %v, want ErrInvalidSignature", err)
			}
		})
	}
}

func TestDefaultSignatureAlgorithm(t *testing.T) {
	tests := []struct {
		key  string
		want SignatureAlgorithm
	}{
		{"streebog256", GOST256},
		{"streebog512", GOST512},
		{"p256", ECDSAWithSHA256},
		{"p384", ECDSAWithSHA384},
		{"p521", ECDSAWithSHA512},
		{"rsa", SHA256WithRSA},
	}
	for _, tt := range tests {
		if got, err := DefaultSignatureAlgorithm(testKey(t, tt.key).Public()); err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.key, got, err, tt.want)
		}
	}
	if _, err := DefaultSignatureAlgorithm(&gost.PublicKey{}); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("GOST key without curve: %v", err)
	}
}

func TestGOSTSignatureHalvesOrder(t *testing.T) {
	// The signature is s ‖ r: swapping the halves must not verify.
	k := testKey(t, "streebog256")
	sig, err := Sign(rand.Reader, k, GOST256, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	swapped := append(append([]byte(nil), sig[32:]...), sig[:32]...)
	if err := CheckSignature(GOST256, []byte("x"), swapped, k.Public()); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("r ‖ s verified: %v", err)
	}
}

func TestSignKeyMismatch(t *testing.T) {
	tests := []struct {
		key string
		alg SignatureAlgorithm
	}{
		{"streebog256", GOST512},
		{"streebog512", GOST256},
		{"p256", GOST256},
		{"rsa", ECDSAWithSHA256},
		{"p256", SHA256WithRSA},
		{"streebog256", UnknownSignatureAlgorithm},
	}
	for _, tt := range tests {
		k := testKey(t, tt.key)
		if _, err := Sign(rand.Reader, k, tt.alg, []byte("m")); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%s with %v: %v, want ErrUnsupportedAlgorithm", tt.key, tt.alg, err)
		}
		if err := CheckSignature(tt.alg, []byte("m"), make([]byte, 64), k.Public()); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("check %s with %v: %v, want ErrUnsupportedAlgorithm", tt.key, tt.alg, err)
		}
	}
	if _, err := SignDigest(rand.Reader, testKey(t, "streebog256"), GOST256, make([]byte, 31)); err == nil {
		t.Error("short digest signed")
	}
}

// faultySigner returns a signature that does not verify, as a broken token
// might.
type faultySigner struct{ crypto.Signer }

func (f faultySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := f.Signer.Sign(r, digest, opts)
	if err == nil {
		sig[len(sig)/2] ^= 0x40
	}
	return sig, err
}

// optsRecorder remembers the options a signer was called with.
type optsRecorder struct {
	crypto.Signer
	opts   crypto.SignerOpts
	digest []byte
}

func (o *optsRecorder) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	o.opts, o.digest = opts, append([]byte(nil), digest...)
	return o.Signer.Sign(r, digest, opts)
}

func TestSignVerifiesSignerOutput(t *testing.T) {
	for _, name := range []string{"streebog256", "p256", "rsa"} {
		k := testKey(t, name)
		alg, _ := DefaultSignatureAlgorithm(k.Public())
		_, err := Sign(rand.Reader, faultySigner{k}, alg, []byte("m"))
		if !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: faulty signer gave %v, want ErrInvalidSignature", name, err)
		}
	}
}

func TestSignerOptsAndDigest(t *testing.T) {
	for _, h := range []gost.Hash{gost.Streebog256, gost.Streebog512} {
		rec := &optsRecorder{Signer: testKey(t, h.String())}
		alg, _ := DefaultSignatureAlgorithm(rec.Public())
		msg := []byte("message")
		if _, err := Sign(rand.Reader, rec, alg, msg); err != nil {
			t.Fatal(err)
		}
		o, ok := rec.opts.(*gost.SignerOpts)
		if !ok || o.Hash != h {
			t.Errorf("%v: signer got opts %#v, want *gost.SignerOpts{Hash: %v}", h, rec.opts, h)
		}
		hh := h.New()
		hh.Write(msg)
		if want := hh.Sum(nil); !bytes.Equal(rec.digest, want) {
			t.Errorf("%v: signer got digest %x, want %x (hash output order)", h, rec.digest, want)
		}
	}
	rec := &optsRecorder{Signer: testKey(t, "p384")}
	if _, err := Sign(rand.Reader, rec, ECDSAWithSHA384, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if rec.opts.HashFunc() != crypto.SHA384 {
		t.Errorf("ECDSA signer got %v", rec.opts.HashFunc())
	}
}

func TestPublicKeyRoundTrip(t *testing.T) {
	for _, name := range []string{"streebog256", "streebog512", "p256", "p384", "rsa"} {
		pub := testKey(t, name).Public()
		der, err := MarshalPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePublicKey(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !publicKeysEqual(pub, got) {
			t.Errorf("%s: parsed key differs", name)
		}
		if _, err := ParsePublicKey(append(der, 0)); err == nil {
			t.Errorf("%s: trailing byte accepted", name)
		}
	}
	if _, err := MarshalPublicKey("key"); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("MarshalPublicKey(string) = %v", err)
	}
}

func TestKeyIDIsOpenSSLHash(t *testing.T) {
	k := testKey(t, "streebog256").Public().(*gost.PublicKey)
	id, err := KeyID(k)
	if err != nil {
		t.Fatal(err)
	}
	// OpenSSL hashes the BIT STRING value: 04 40 ‖ X_le ‖ Y_le.
	want := sha1.Sum(append([]byte{0x04, 0x40}, k.Bytes()...))
	if !bytes.Equal(id, want[:]) {
		t.Fatalf("KeyID = %x, want %x", id, want)
	}
}

func TestParsePublicKeyUnsupported(t *testing.T) {
	point := asn1.BitString{Bytes: append([]byte{0x04, 0x40}, make([]byte, 64)...), BitLength: 66 * 8}
	oidParams := func(oids ...asn1.ObjectIdentifier) asn1.RawValue {
		der, _ := asn1.Marshal(oids)
		return asn1.RawValue{FullBytes: der}
	}
	secp256k1, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 10})
	for name, info := range map[string]subjectPublicKeyInfo{
		"GOST 2001":          {pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 643, 2, 2, 19}, Parameters: oidParams(asn1.ObjectIdentifier{1, 2, 643, 2, 2, 35, 1})}, point},
		"GOST unknown curve": {pkix.AlgorithmIdentifier{Algorithm: gost.OIDPublicKey256, Parameters: oidParams(asn1.ObjectIdentifier{1, 2, 643, 9, 9})}, point},
		"ECDSA on secp256k1": {pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: secp256k1}}, point},
		"GOST no parameters": {pkix.AlgorithmIdentifier{Algorithm: gost.OIDPublicKey512}, point},
	} {
		der, err := asn1.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePublicKey(der); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%s: %v, want ErrUnsupportedAlgorithm", name, err)
		}
	}
	// A known curve with a point off it is malformed, not unsupported.
	der, _ := asn1.Marshal(subjectPublicKeyInfo{pkix.AlgorithmIdentifier{Algorithm: gost.OIDPublicKey256, Parameters: oidParams(gost.Curves()[0].OID)}, point})
	if _, err := ParsePublicKey(der); err == nil || errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("point off the curve: %v", err)
	}
}
