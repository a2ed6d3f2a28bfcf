package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// QualifiedFieldError reports a Russian identifier (SNILS, INN, …) that
// breaks its format or checksum. The value itself is left out: these are
// personal data and errors end up in logs.
type QualifiedFieldError struct {
	Field  string // "SNILS", "INN", "INNLE", "OGRN", "OGRNIP"
	Reason string
}

func (e *QualifiedFieldError) Error() string {
	return fmt.Sprintf("pki: invalid %s: %s", e.Field, e.Reason)
}

func digits(field, s string, lengths ...int) ([]int, error) {
	ok := false
	for _, n := range lengths {
		ok = ok || len(s) == n
	}
	if !ok {
		want := fmt.Sprint(lengths[0])
		if len(lengths) > 1 {
			want = fmt.Sprintf("%d or %d", lengths[0], lengths[1])
		}
		return nil, &QualifiedFieldError{field, fmt.Sprintf("%d characters, want %s digits", len(s), want)}
	}
	d := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, &QualifiedFieldError{field, "not all digits"}
		}
		d[i] = int(s[i] - '0')
	}
	return d, nil
}

func badChecksum(field string) error {
	return &QualifiedFieldError{field, "wrong control digits"}
}

// ValidateSNILS checks an 11-digit SNILS: the last two digits are the sum
// of the first nine weighted 9…1, taken mod 101, with 100 (and 101) written
// as 00. Numbers up to 001-001-998 were issued before the control sum and
// are not checked.
func ValidateSNILS(s string) error {
	d, err := digits("SNILS", s, 11)
	if err != nil {
		return err
	}
	number := 0
	sum := 0
	for i := 0; i < 9; i++ {
		number = number*10 + d[i]
		sum += d[i] * (9 - i)
	}
	if number <= 1001998 {
		return nil
	}
	control := sum % 101
	if control == 100 {
		control = 0
	}
	if control != d[9]*10+d[10] {
		return badChecksum("SNILS")
	}
	return nil
}

// innControl is one INN control digit: the weighted sum mod 11, mod 10.
func innControl(d []int, weights []int) int {
	sum := 0
	for i, w := range weights {
		sum += d[i] * w
	}
	return sum % 11 % 10
}

var (
	innWeights10  = []int{2, 4, 10, 3, 5, 9, 4, 6, 8}
	innWeights11  = []int{7, 2, 4, 10, 3, 5, 9, 4, 6, 8}
	innWeights12  = []int{3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8}
	errINNAllZero = &QualifiedFieldError{"INN", "all zeros"}
)

// ValidateINN checks an INN as the INN attribute holds it: 12 digits with
// two control digits for a person, or "00" and a legal entity's 10-digit
// INN (one control digit). A bare 10-digit INN is accepted too.
func ValidateINN(s string) error {
	d, err := digits("INN", s, 10, 12)
	if err != nil {
		return err
	}
	if len(d) == 12 && d[0] == 0 && d[1] == 0 {
		return validateINN10("INN", d[2:])
	}
	if len(d) == 10 {
		return validateINN10("INN", d)
	}
	if allZero(d) {
		return errINNAllZero
	}
	if innControl(d, innWeights11) != d[10] || innControl(d, innWeights12) != d[11] {
		return badChecksum("INN")
	}
	return nil
}

// ValidateINNLE checks the 10-digit INN of a legal entity (INNLE).
func ValidateINNLE(s string) error {
	d, err := digits("INNLE", s, 10)
	if err != nil {
		return err
	}
	return validateINN10("INNLE", d)
}

func validateINN10(field string, d []int) error {
	if allZero(d) {
		return &QualifiedFieldError{field, "all zeros"}
	}
	if innControl(d, innWeights10) != d[9] {
		return badChecksum(field)
	}
	return nil
}

func allZero(d []int) bool {
	for _, v := range d {
		if v != 0 {
			return false
		}
	}
	return true
}

// ValidateOGRN checks a 13-digit OGRN: the first 12 digits as a number mod
// 11, mod 10, is the last digit.
func ValidateOGRN(s string) error { return validateOGRN("OGRN", s, 13, 11) }

// ValidateOGRNIP checks a 15-digit OGRNIP: the first 14 digits mod 13,
// mod 10, is the last digit.
func ValidateOGRNIP(s string) error { return validateOGRN("OGRNIP", s, 15, 13) }

func validateOGRN(field, s string, length int, mod int64) error {
	d, err := digits(field, s, length)
	if err != nil {
		return err
	}
	if allZero(d) {
		return &QualifiedFieldError{field, "all zeros"}
	}
	n, _ := new(big.Int).SetString(s[:length-1], 10)
	control := new(big.Int).Mod(n, big.NewInt(mod)).Int64() % 10
	if control != int64(d[length-1]) {
		return badChecksum(field)
	}
	return nil
}

// ValidateQualified checks every qualified identifier present in n and
// returns all failures joined (each a *QualifiedFieldError).
func (n *Name) ValidateQualified() error {
	var errs []error
	for _, c := range []struct {
		v     string
		check func(string) error
	}{
		{n.SNILS, ValidateSNILS},
		{n.INN, ValidateINN},
		{n.INNLE, ValidateINNLE},
		{n.OGRN, ValidateOGRN},
		{n.OGRNIP, ValidateOGRNIP},
	} {
		if c.v != "" {
			if err := c.check(c.v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// qualifiedPolicies are the signing-tool classes КС1…КА1.
var qualifiedPolicies = []asn1.ObjectIdentifier{OIDPolicyKC1, OIDPolicyKC2, OIDPolicyKC3, OIDPolicyKB1, OIDPolicyKB2, OIDPolicyKA1}

// CheckQualifiedProfile lints a qualified certificate, or a template about
// to be signed, against the Russian qualified profile as gostkey applies
// it: a subject that names a person (SNILS, with surname and given name)
// or a business (OGRN or OGRNIP), with valid checksums on every
// identifier present; a common name; digitalSignature in the key usage;
// subjectSignTool and a complete issuerSignTool; and a signing-tool class
// among the certificate policies. It returns every problem joined, each a
// *QualifiedFieldError naming the field.
func CheckQualifiedProfile(c *Certificate) error {
	var errs []error
	problem := func(field, reason string) { errs = append(errs, &QualifiedFieldError{field, reason}) }
	s := &c.Subject
	if err := s.ValidateQualified(); err != nil {
		errs = append(errs, err)
	}
	if s.SNILS == "" && s.OGRN == "" && s.OGRNIP == "" {
		problem("SNILS", "the subject has neither SNILS nor OGRN/OGRNIP")
	}
	if s.SNILS != "" && s.Surname == "" {
		problem("SN", "a person's certificate needs a surname")
	}
	if s.SNILS != "" && s.GivenName == "" {
		problem("GN", "a person's certificate needs a given name")
	}
	if s.CommonName == "" {
		problem("CN", "missing")
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		problem("keyUsage", "digitalSignature missing")
	}
	if c.SubjectSignTool == "" {
		problem("subjectSignTool", "missing")
	}
	if t := c.IssuerSignTool; t == nil || t.SignTool == "" || t.CATool == "" || t.SignToolCert == "" || t.CAToolCert == "" {
		problem("issuerSignTool", "missing or incomplete")
	}
	hasClass := false
	for _, p := range c.PolicyIdentifiers {
		for _, q := range qualifiedPolicies {
			hasClass = hasClass || p.Equal(q)
		}
	}
	if !hasClass {
		problem("certificatePolicies", "no signing-tool class (КС1…КА1)")
	}
	return errors.Join(errs...)
}
