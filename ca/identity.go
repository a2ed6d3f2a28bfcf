package ca

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gostkey/gostkey/ca/store"
	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pki"
)

// Name parts are bounded by X.520's ub-surname/ub-given-name style limits
// (40) and the common name, which joins them, by ub-common-name (64).
const (
	maxNamePart   = 40
	maxCommonName = 64
	maxEmail      = 128
)

// NormalizeIdentity checks a registrar's input and returns it in the form
// that is stored and certified: surrounding space trimmed, SNILS and INN
// without the separators people type ("112-233-445 95"). The first problem
// found is an invalid_field *Error naming the JSON field; SNILS and INN
// checksums are pki's qualified-profile checks.
func NormalizeIdentity(id store.Identity) (store.Identity, error) {
	id.Surname = strings.TrimSpace(id.Surname)
	id.GivenName = strings.TrimSpace(id.GivenName)
	id.Patronymic = strings.TrimSpace(id.Patronymic)
	id.Email = strings.TrimSpace(id.Email)
	id.SNILS = stripSeparators(id.SNILS)
	id.INN = stripSeparators(id.INN)
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"surname", id.Surname, true}, {"given_name", id.GivenName, true}, {"patronymic", id.Patronymic, false}} {
		if err := checkNamePart(f.v, f.required); err != nil {
			return id, invalidField(f.name, err.Error(), nil)
		}
	}
	if utf8.RuneCountInString(commonName(id)) > maxCommonName {
		return id, invalidField("surname", "the full name is longer than 64 characters", nil)
	}
	if err := pki.ValidateSNILS(id.SNILS); err != nil {
		return id, invalidField("snils", qualifiedReason(err), err)
	}
	if len(id.INN) != 12 {
		return id, invalidField("inn", "a person's INN has 12 digits", nil)
	}
	if err := pki.ValidateINN(id.INN); err != nil {
		return id, invalidField("inn", qualifiedReason(err), err)
	}
	if id.Email != "" {
		a, err := mail.ParseAddress(id.Email)
		if err != nil || a.Address != id.Email || a.Name != "" || len(id.Email) > maxEmail || !isASCII(id.Email) {
			return id, invalidField("email", "not a plain ASCII e-mail address", nil)
		}
	}
	return id, nil
}

func qualifiedReason(err error) string {
	var q *pki.QualifiedFieldError
	if errors.As(err, &q) {
		return q.Reason
	}
	return "invalid"
}

func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

func checkNamePart(s string, required bool) error {
	if s == "" {
		if required {
			return errors.New("required")
		}
		return nil
	}
	if utf8.RuneCountInString(s) > maxNamePart {
		return errors.New("longer than 40 characters")
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && r != ' ' && r != '-' && r != '\'' && r != '.' {
			return errors.New("only letters, spaces, hyphens, apostrophes and dots")
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func commonName(id store.Identity) string {
	parts := []string{id.Surname, id.GivenName}
	if id.Patronymic != "" {
		parts = append(parts, id.Patronymic)
	}
	return strings.Join(parts, " ")
}

// SubjectName is the qualified-profile subject of a person's certificate:
// C=RU, CN "Surname Given Patronymic", SN, GN "Given Patronymic", SNILS,
// INN and, when registered, the e-mail address.
func SubjectName(id store.Identity) pki.Name {
	gn := id.GivenName
	if id.Patronymic != "" {
		gn += " " + id.Patronymic
	}
	return pki.Name{
		Country:    "RU",
		CommonName: commonName(id),
		Surname:    id.Surname,
		GivenName:  gn,
		Email:      id.Email,
		SNILS:      id.SNILS,
		INN:        id.INN,
	}
}

// KeyPolicy is which subject keys the profile certifies. The zero value
// allows GOST R 34.10-2012 keys of 256 and 512 bits on any curve gost
// knows (the parser has already refused points off the curve or outside
// the prime-order subgroup) except the test parameter sets.
type KeyPolicy struct {
	// Curves, when set, lists the only curves allowed.
	Curves []*gost.Curve
}

// Check returns a key_not_allowed *Error for a key the profile refuses.
func (p KeyPolicy) Check(pub crypto.PublicKey) error {
	k, ok := pub.(*gost.PublicKey)
	if !ok || k == nil || k.Curve == nil {
		return refuse(KindInvalid, "key_not_allowed", "the key is not a GOST R 34.10-2012 key")
	}
	if k.Curve == gost.CurveTest256 || k.Curve == gost.CurveTest512 {
		return refuse(KindInvalid, "key_not_allowed", "test parameter sets are not certified")
	}
	if len(p.Curves) == 0 {
		return nil
	}
	for _, c := range p.Curves {
		if c.OID.Equal(k.Curve.OID) {
			return nil
		}
	}
	return refuse(KindInvalid, "key_not_allowed", "this GOST parameter set is not allowed by the profile")
}

// SPKIHash is the store's key fingerprint: SHA-256 of the key's canonical
// SubjectPublicKeyInfo, so that two encodings of one key collide.
func SPKIHash(pub crypto.PublicKey) ([]byte, error) {
	spki, err := pki.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(spki)
	return h[:], nil
}

// parseCSR parses and checks a PKCS#10 request: csr_invalid when it does
// not parse, csr_signature when its self-signature does not verify under
// its own key, key_not_allowed from the policy.
func parseCSR(der []byte, policy KeyPolicy) (*pki.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, &Error{Kind: KindInvalid, Code: "csr_invalid", Message: "no certificate request", Field: "csr"}
	}
	csr, err := pki.ParseCertificateRequest(der)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "csr_invalid", Message: "the certificate request does not parse", Field: "csr", Err: err}
	}
	if csr.PublicKey == nil {
		return nil, &Error{Kind: KindInvalid, Code: "key_not_allowed", Message: "the request's key algorithm is not supported", Field: "csr"}
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "csr_signature", Message: "the request is not signed by its own key", Field: "csr", Err: err}
	}
	if err := policy.Check(csr.PublicKey); err != nil {
		e := err.(*Error)
		e.Field = "csr"
		return nil, e
	}
	return csr, nil
}
