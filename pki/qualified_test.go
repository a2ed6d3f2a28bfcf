package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"
)

func TestQualifiedChecksums(t *testing.T) {
	tests := []struct {
		field string
		check func(string) error
		value string
		ok    bool
	}{
		{"SNILS", ValidateSNILS, "11223344595", true}, // sum 95 < 100
		{"SNILS", ValidateSNILS, "11223344594", false},
		{"SNILS", ValidateSNILS, "00211878599", true},  // sum 99
		{"SNILS", ValidateSNILS, "00250681600", true},  // sum 100 → 00
		{"SNILS", ValidateSNILS, "00250681699", false}, // ... not 100
		{"SNILS", ValidateSNILS, "00222965100", true},  // sum 101 → 00
		{"SNILS", ValidateSNILS, "00799468300", true},  // sum 201: mod 101 = 100 → 00
		{"SNILS", ValidateSNILS, "99999999901", true},  // sum 405: mod 101 = 1
		{"SNILS", ValidateSNILS, "99999999905", false},
		{"SNILS", ValidateSNILS, "00100199812", true}, // issued before control sums
		{"SNILS", ValidateSNILS, "1122334459", false},
		{"SNILS", ValidateSNILS, "112-233-445", false},
		{"SNILS", ValidateSNILS, "1122334459a", false},
		{"INN", ValidateINN, "500100732259", true},
		{"INN", ValidateINN, "500100732258", false}, // second control digit
		{"INN", ValidateINN, "500100732269", false}, // first control digit
		{"INN", ValidateINN, "007707083893", true},  // legal entity, "00" + 10 digits
		{"INN", ValidateINN, "007707083894", false},
		{"INN", ValidateINN, "7707083893", true},
		{"INN", ValidateINN, "000000000000", false},
		{"INN", ValidateINN, "50010073225", false},
		{"INNLE", ValidateINNLE, "7717107991", true},
		{"INNLE", ValidateINNLE, "7717107992", false},
		{"INNLE", ValidateINNLE, "007717107991", false},
		{"OGRN", ValidateOGRN, "1027700132195", true},
		{"OGRN", ValidateOGRN, "1027700132194", false},
		{"OGRN", ValidateOGRN, "102770013219", false},
		{"OGRNIP", ValidateOGRNIP, "304500116000157", true},
		{"OGRNIP", ValidateOGRNIP, "304500116000158", false},
		{"OGRNIP", ValidateOGRNIP, "1027700132195", false},
	}
	for _, tt := range tests {
		err := tt.check(tt.value)
		if tt.ok {
			if err != nil {
				t.Errorf("%s %s: %v", tt.field, tt.value, err)
			}
			continue
		}
		var qe *QualifiedFieldError
		if !errors.As(err, &qe) || qe.Field != tt.field {
			t.Errorf("%s %s: got %v, want a QualifiedFieldError for %s", tt.field, tt.value, err, tt.field)
		}
	}
}

func TestQualifiedErrorHidesValue(t *testing.T) {
	err := ValidateSNILS("11223344594")
	if err == nil || err.Error() != "pki: invalid SNILS: wrong control digits" {
		t.Fatalf("error = %v", err)
	}
}

func TestNameValidateQualified(t *testing.T) {
	n := Name{SNILS: "11223344595", INN: "500100732259", OGRN: "1027700132195"}
	if err := n.ValidateQualified(); err != nil {
		t.Fatal(err)
	}
	n.SNILS, n.INN = "11223344594", "500100732258"
	err := n.ValidateQualified()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var qe *QualifiedFieldError
		if errors.As(e, &qe) {
			fields = append(fields, qe.Field)
		}
	}
	if len(fields) != 2 || fields[0] != "SNILS" || fields[1] != "INN" {
		t.Fatalf("failures %v (%v), want SNILS and INN", fields, err)
	}
}

func TestCheckQualifiedProfile(t *testing.T) {
	if err := CheckQualifiedProfile(leafTemplate()); err != nil {
		t.Fatalf("the test leaf template: %v", err)
	}
	tests := []struct {
		field string
		mod   func(*Certificate)
	}{
		{"SNILS", func(c *Certificate) { c.Subject.SNILS = "" }},
		{"SNILS", func(c *Certificate) { c.Subject.SNILS = "11223344594" }},
		{"INN", func(c *Certificate) { c.Subject.INN = "500100732258" }},
		{"SN", func(c *Certificate) { c.Subject.Surname = "" }},
		{"GN", func(c *Certificate) { c.Subject.GivenName = "" }},
		{"CN", func(c *Certificate) { c.Subject.CommonName = "" }},
		{"keyUsage", func(c *Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }},
		{"subjectSignTool", func(c *Certificate) { c.SubjectSignTool = "" }},
		{"issuerSignTool", func(c *Certificate) { c.IssuerSignTool.CAToolCert = "" }},
		{"issuerSignTool", func(c *Certificate) { c.IssuerSignTool = nil }},
		{"certificatePolicies", func(c *Certificate) { c.PolicyIdentifiers = []asn1.ObjectIdentifier{OIDPolicyAnyPolicy} }},
	}
	for _, tt := range tests {
		c := leafTemplate()
		tt.mod(c)
		err := CheckQualifiedProfile(c)
		var qe *QualifiedFieldError
		if !errors.As(err, &qe) || qe.Field != tt.field {
			t.Errorf("%s: got %v", tt.field, err)
		}
	}
	// A business: OGRN instead of SNILS, no person's names needed.
	c := leafTemplate()
	c.Subject = Name{CommonName: "ООО «Ромашка»", OGRN: "1027700132195", INNLE: "7707083893"}
	if err := CheckQualifiedProfile(c); err != nil {
		t.Errorf("business certificate: %v", err)
	}
}
