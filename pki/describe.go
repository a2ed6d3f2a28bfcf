package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/gostkey/gostkey/gost"
)

// Describer is implemented by every pki object `gostkey cert show` can
// print: certificates, requests, and CRLs.
type Describer interface {
	Describe(w io.Writer) error
}

// Describe writes a readable dump of obj, which must be a Describer.
func Describe(w io.Writer, obj any) error {
	d, ok := obj.(Describer)
	if !ok {
		return fmt.Errorf("pki: cannot describe a %T", obj)
	}
	return d.Describe(w)
}

// Names of name attributes in Russian and English, for Describe.
var attributeTitles = map[string]string{
	"C": "Страна (Country)", "ST": "Субъект РФ (State or province)", "L": "Населённый пункт (Locality)",
	"street": "Адрес (Street address)", "O": "Организация (Organization)",
	"OU": "Подразделение (Organizational unit)", "title": "Должность (Title)",
	"CN": "Общее имя (Common name)", "SN": "Фамилия (Surname)", "GN": "Имя и отчество (Given name)",
	"pseudonym": "Псевдоним (Pseudonym)", "emailAddress": "Электронная почта (Email)",
	"serialNumber": "Серийный номер (Serial number)", "SNILS": "СНИЛС (SNILS)", "INN": "ИНН (INN)",
	"INNLE": "ИНН ЮЛ (INNLE)", "OGRN": "ОГРН (OGRN)", "OGRNIP": "ОГРНИП (OGRNIP)",
}

// Russian titles of the extensions, shown before their usual names.
var extensionTitles = map[string]string{
	"basicConstraints": "Основные ограничения", "keyUsage": "Использование ключа",
	"extKeyUsage": "Расширенное использование ключа", "subjectKeyIdentifier": "Идентификатор ключа владельца",
	"authorityKeyIdentifier": "Идентификатор ключа издателя", "privateKeyUsagePeriod": "Срок действия ключа подписи",
	"certificatePolicies": "Политики, класс средства ЭП", "subjectSignTool": "Средство ЭП владельца",
	"issuerSignTool": "Средства ЭП и УЦ издателя", "subjectAltName": "Альтернативные имена",
	"cRLDistributionPoints": "Точки распространения СОС", "authorityInfoAccess": "Доступ к сведениям издателя",
}

var qualifiedChecks = map[string]func(string) error{
	"SNILS": ValidateSNILS, "INN": ValidateINN, "INNLE": ValidateINNLE, "OGRN": ValidateOGRN, "OGRNIP": ValidateOGRNIP,
}

var policyTitles = []struct {
	oid   asn1.ObjectIdentifier
	title string
}{
	{OIDPolicyKC1, "КС1 (KC1)"}, {OIDPolicyKC2, "КС2 (KC2)"}, {OIDPolicyKC3, "КС3 (KC3)"},
	{OIDPolicyKB1, "КВ1 (KB1)"}, {OIDPolicyKB2, "КВ2 (KB2)"}, {OIDPolicyKA1, "КА1 (KA1)"},
	{OIDPolicyAnyPolicy, "anyPolicy"},
}

var extKeyUsageTitles = []struct {
	oid   asn1.ObjectIdentifier
	title string
}{
	{OIDExtKeyUsageAny, "any"}, {OIDExtKeyUsageServerAuth, "serverAuth"}, {OIDExtKeyUsageClientAuth, "clientAuth"},
	{OIDExtKeyUsageCodeSigning, "codeSigning"}, {OIDExtKeyUsageEmailProtection, "emailProtection"},
	{OIDExtKeyUsageTimeStamping, "timeStamping"}, {OIDExtKeyUsageOCSPSigning, "OCSPSigning"},
	{OIDExtKeyUsageDocumentSigning, "documentSigning"}, {OIDExtKeyUsageMSDocumentSigning, "Microsoft documentSigning"},
	{OIDExtKeyUsageCryptoProTLSProxy, "аудит TLS (CryptoPro TLS proxy)"},
	{OIDExtKeyUsageCryptoProRAClientAuth, "временный доступ к ЦР (CryptoPro RA client auth)"},
	{OIDExtKeyUsageCryptoProWebContentSigning, "подпись веб-содержимого (CryptoPro web content signing)"},
	{OIDExtKeyUsageCryptoProRAAdministrator, "администратор ЦР (CryptoPro RA administrator)"},
	{OIDExtKeyUsageCryptoProRAOperator, "оператор ЦР (CryptoPro RA operator)"},
	{OIDExtKeyUsageCryptoProRAUser, "пользователь ЦР (CryptoPro RA user)"},
	{OIDExtKeyUsageCryptoProTSPUser, "пользователь службы штампов времени (CryptoPro TSP user)"},
	{OIDExtKeyUsageCryptoProOCSPUser, "пользователь службы актуальных статусов (CryptoPro OCSP user)"},
}

func titled(list []struct {
	oid   asn1.ObjectIdentifier
	title string
}, oid asn1.ObjectIdentifier) string {
	for _, e := range list {
		if e.oid.Equal(oid) {
			return e.title + " " + oid.String()
		}
	}
	return oid.String()
}

// dumper writes indented "label: value" lines and keeps the first error.
type dumper struct {
	w   io.Writer
	err error
}

func (d *dumper) line(indent int, label string, value any) {
	if d.err != nil {
		return
	}
	pad := strings.Repeat("  ", indent)
	if value == nil {
		_, d.err = fmt.Fprintf(d.w, "%s%s:\n", pad, label)
		return
	}
	_, d.err = fmt.Fprintf(d.w, "%s%s: %v\n", pad, label, value)
}

func describeTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// describeName lists a name's attributes one per line, in encoding order,
// and marks qualified identifiers whose checksum fails.
func (d *dumper) describeName(indent int, label string, n Name) {
	d.line(indent, label, n.String())
	atvs := n.Attributes
	if atvs == nil {
		atvs = n.attributes()
	}
	for _, a := range atvs {
		short := attributeLabel(a.Type)
		title, ok := attributeTitles[short]
		if !ok {
			title = a.Type.String()
		}
		v := a.Value
		if check := qualifiedChecks[short]; check != nil {
			if err := check(v); err != nil {
				var reason string
				var qe *QualifiedFieldError
				if errors.As(err, &qe) {
					reason = qe.Reason
				}
				v += " (НЕВЕРНО / INVALID: " + reason + ")"
			}
		}
		d.line(indent+1, title, v)
	}
}

func describePublicKey(pub crypto.PublicKey, algOID asn1.ObjectIdentifier) string {
	switch k := pub.(type) {
	case *gost.PublicKey:
		return fmt.Sprintf("GOST R 34.10-2012 %d bit, %s (%s)", 8*k.Curve.Size(), k.Curve.Name, k.Curve.OID)
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d bit", k.N.BitLen())
	}
	return "unsupported algorithm " + algOID.String()
}

func (d *dumper) describeKey(indent int, pub crypto.PublicKey, algOID asn1.ObjectIdentifier, spki []byte) {
	d.line(indent, "Открытый ключ (Public key)", describePublicKey(pub, algOID))
	if id, err := keyIDFromSPKI(spki); err == nil {
		d.line(indent+1, "Key ID (SHA-1)", colonHex(id))
	}
}

func (d *dumper) describeSignature(indent int, alg SignatureAlgorithm, oid asn1.ObjectIdentifier) {
	s := alg.String()
	if alg == UnknownSignatureAlgorithm {
		s = "unsupported " + oid.String()
	}
	d.line(indent, "Алгоритм подписи (Signature algorithm)", s)
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String()
}

// describeSerial prints a serial number the same way for certificates, CRL
// entries and OCSP CertIDs, and as `openssl x509 -serial` and the gostkey
// CLI do (upper-case hex, two digits a byte, no colons), so that one can
// be searched for the other; zero as 00 rather than nothing.
func describeSerial(n *big.Int) string {
	switch {
	case n == nil:
		return "(none)"
	case n.Sign() == 0:
		return "00"
	}
	return fmt.Sprintf("%X", n.Bytes())
}

// describeBytes prints the value of an extension Describe has no words for.
func describeBytes(b []byte) string { return fmt.Sprintf("%d bytes %x", len(b), b) }

// describeExtensions prints the typed extensions of c (a certificate, or a
// request's requested values carried in one), then any others by OID.
func (d *dumper) describeExtensions(indent int, c *Certificate, exts []pkix.Extension) {
	if len(exts) == 0 {
		return
	}
	d.line(indent, "Расширения (Extensions)", nil)
	in := indent + 1
	for _, e := range exts {
		name := extensionName(e.Id)
		if t, ok := extensionTitles[name]; ok {
			name = t + " (" + name + ")"
		}
		if e.Critical {
			name += " (critical)"
		}
		switch {
		case e.Id.Equal(OIDExtensionBasicConstraints):
			v := "CA: no"
			if c.IsCA {
				v = "CA: yes"
				if c.MaxPathLen >= 0 {
					v += fmt.Sprintf(", path length: %d", c.MaxPathLen)
				}
			}
			d.line(in, name, v)
		case e.Id.Equal(OIDExtensionKeyUsage):
			d.line(in, name, strings.Join(keyUsageNames(c.KeyUsage), ", "))
		case e.Id.Equal(OIDExtensionExtKeyUsage):
			var s []string
			for _, oid := range c.ExtKeyUsage {
				s = append(s, titled(extKeyUsageTitles, oid))
			}
			d.line(in, name, strings.Join(s, ", "))
		case e.Id.Equal(OIDExtensionSubjectKeyID):
			d.line(in, name, colonHex(c.SubjectKeyId))
		case e.Id.Equal(OIDExtensionAuthorityKeyID):
			d.line(in, name, colonHex(c.AuthorityKeyId))
		case e.Id.Equal(OIDExtensionCertificatePolicies):
			var s []string
			for _, oid := range c.PolicyIdentifiers {
				s = append(s, titled(policyTitles, oid))
			}
			d.line(in, name, strings.Join(s, ", "))
		case e.Id.Equal(OIDExtensionSubjectSignTool):
			d.line(in, name, c.SubjectSignTool)
		case e.Id.Equal(OIDExtensionIssuerSignTool):
			d.line(in, name, nil)
			if t := c.IssuerSignTool; t != nil {
				d.line(in+1, "Средство ЭП (signTool)", t.SignTool)
				d.line(in+1, "Средство УЦ (cATool)", t.CATool)
				d.line(in+1, "Заключение на средство ЭП (signToolCert)", t.SignToolCert)
				d.line(in+1, "Заключение на средство УЦ (cAToolCert)", t.CAToolCert)
			}
		case e.Id.Equal(OIDExtensionPrivateKeyUsagePeriod):
			v := ""
			if !c.PrivateKeyUsageNotBefore.IsZero() {
				v = "from " + describeTime(c.PrivateKeyUsageNotBefore)
			}
			if !c.PrivateKeyUsageNotAfter.IsZero() {
				v = strings.TrimSpace(v + " until " + describeTime(c.PrivateKeyUsageNotAfter))
			}
			d.line(in, name, v)
		case e.Id.Equal(OIDExtensionCRLDistributionPoints):
			d.line(in, name, strings.Join(c.CRLDistributionPoints, ", "))
		case e.Id.Equal(OIDExtensionAuthorityInfoAccess):
			d.line(in, name, nil)
			for _, u := range c.OCSPServer {
				d.line(in+1, "OCSP", u)
			}
			for _, u := range c.IssuingCertificateURL {
				d.line(in+1, "CA issuers", u)
			}
		case e.Id.Equal(OIDExtensionSubjectAltName):
			var s []string
			for _, v := range c.EmailAddresses {
				s = append(s, "email:"+v)
			}
			for _, v := range c.DNSNames {
				s = append(s, "DNS:"+v)
			}
			for _, v := range c.IPAddresses {
				s = append(s, "IP:"+v.String())
			}
			d.line(in, name, strings.Join(s, ", "))
		default:
			d.line(in, name, describeBytes(e.Value))
		}
	}
}

// Describe writes every field of the certificate, with the qualified
// profile's attributes and extensions named in Russian and English.
func (c *Certificate) Describe(w io.Writer) error {
	d := &dumper{w: w}
	d.line(0, "Сертификат (Certificate)", nil)
	d.line(1, "Версия (Version)", c.Version)
	d.line(1, "Серийный номер (Serial number)", describeSerial(c.SerialNumber))
	d.describeSignature(1, c.SignatureAlgorithm, c.signatureAlgorithmOID)
	d.describeName(1, "Издатель (Issuer)", c.Issuer)
	d.line(1, "Действителен с (Not before)", describeTime(c.NotBefore))
	d.line(1, "Действителен по (Not after)", describeTime(c.NotAfter))
	d.describeName(1, "Владелец (Subject)", c.Subject)
	d.describeKey(1, c.PublicKey, c.publicKeyAlgorithmOID, c.RawSubjectPublicKeyInfo)
	d.describeExtensions(1, c, c.Extensions)
	sig := fmt.Sprintf("%d bytes", len(c.Signature))
	if c.isSelfSigned() {
		if err := c.CheckSignatureFrom(c); err != nil {
			sig += ", самоподписанный, НЕВЕРНА (self-signed, INVALID): " + err.Error()
		} else {
			sig += ", самоподписанный, верна (self-signed, valid)"
		}
	}
	d.line(1, "Подпись (Signature)", sig)
	sum := sha256.Sum256(c.Raw)
	d.line(1, "Отпечаток SHA-256 (Fingerprint)", colonHex(sum[:]))
	st := gost.Sum256(c.Raw)
	d.line(1, "Отпечаток Streebog-256 (Fingerprint)", colonHex(st[:]))
	return d.err
}

// Describe writes every field of the request, including the requested
// extensions.
func (r *CertificateRequest) Describe(w io.Writer) error {
	d := &dumper{w: w}
	d.line(0, "Запрос на сертификат (Certificate request)", nil)
	d.line(1, "Версия (Version)", r.Version)
	d.describeSignature(1, r.SignatureAlgorithm, r.signatureAlgorithmOID)
	d.describeName(1, "Владелец (Subject)", r.Subject)
	d.describeKey(1, r.PublicKey, r.publicKeyAlgorithmOID, r.RawSubjectPublicKeyInfo)
	c := &Certificate{}
	if _, err := c.parseExtensions(r.Extensions); err == nil {
		d.describeExtensions(1, c, r.Extensions)
	}
	sigState := "верна (valid)"
	if err := r.CheckSignature(); err != nil {
		sigState = "НЕВЕРНА (INVALID): " + err.Error()
	}
	d.line(1, "Подпись (Signature)", fmt.Sprintf("%d bytes, %s", len(r.Signature), sigState))
	return d.err
}

// ParseObjects reads what `gostkey cert show` is given: PEM with any number
// of CERTIFICATE, CERTIFICATE REQUEST and X509 CRL blocks (others are
// skipped), or one DER certificate, request or CRL (or concatenated DER
// certificates). Each result is a *Certificate, *CertificateRequest or *CRL.
func ParseObjects(data []byte) ([]Describer, error) {
	if isPEM(data) {
		var objs []Describer
		for block := range pemBlocks(data) {
			var obj Describer
			var err error
			switch block.Type {
			case "CERTIFICATE":
				obj, err = ParseCertificate(block.Bytes)
			case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
				obj, err = ParseCertificateRequest(block.Bytes)
			case "X509 CRL":
				obj, err = ParseCRL(block.Bytes)
			default:
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s block: %w", block.Type, err)
			}
			objs = append(objs, obj)
		}
		if len(objs) == 0 {
			return nil, errors.New("pki: no certificate, request or CRL in PEM data")
		}
		return objs, nil
	}
	certs, certErr := ParseCertificates(data)
	if certErr == nil {
		objs := make([]Describer, len(certs))
		for i, c := range certs {
			objs[i] = c
		}
		return objs, nil
	}
	if r, err := ParseCertificateRequest(data); err == nil {
		return []Describer{r}, nil
	}
	if crl, err := ParseCRL(data); err == nil {
		return []Describer{crl}, nil
	}
	return nil, fmt.Errorf("pki: not a certificate, request or CRL (as a certificate: %w)", certErr)
}
