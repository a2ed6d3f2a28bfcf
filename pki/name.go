package pki

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Attribute type OIDs of distinguished names, including the Russian
// qualified-certificate identifiers (fact sheet §7).
var (
	OIDCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	OIDSurname            = asn1.ObjectIdentifier{2, 5, 4, 4}
	OIDSerialNumber       = asn1.ObjectIdentifier{2, 5, 4, 5}
	OIDCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	OIDLocality           = asn1.ObjectIdentifier{2, 5, 4, 7}
	OIDProvince           = asn1.ObjectIdentifier{2, 5, 4, 8}
	OIDStreet             = asn1.ObjectIdentifier{2, 5, 4, 9}
	OIDOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	OIDOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	OIDTitle              = asn1.ObjectIdentifier{2, 5, 4, 12}
	OIDGivenName          = asn1.ObjectIdentifier{2, 5, 4, 42}
	OIDPseudonym          = asn1.ObjectIdentifier{2, 5, 4, 65}
	OIDEmailAddress       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	OIDOGRN               = asn1.ObjectIdentifier{1, 2, 643, 100, 1}
	OIDSNILS              = asn1.ObjectIdentifier{1, 2, 643, 100, 3}
	OIDINNLE              = asn1.ObjectIdentifier{1, 2, 643, 100, 4}
	OIDOGRNIP             = asn1.ObjectIdentifier{1, 2, 643, 100, 5}
	OIDINN                = asn1.ObjectIdentifier{1, 2, 643, 3, 131, 1, 1}
)

// AttributeTypeAndValue is one attribute of a distinguished name. Tag is
// the ASN.1 string type it was read with or is to be written with (0 picks
// the attribute's usual type).
type AttributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value string
	Tag   int

	rdn int // index of the RDN a parsed attribute came from
}

// Name is an X.509 distinguished name with a typed field for each
// attribute gostkey knows. GivenName holds the first name and the
// patronymic, space separated, as the qualified profile wants.
//
// A parsed Name keeps every attribute in Attributes, in encoding order
// (multi-valued RDNs flattened), and its DER in Raw; typed fields hold the
// first value of each type and ExtraNames the others. To build a name, set
// the typed fields and ExtraNames; Raw and Attributes are ignored when
// writing, so re-encoding a parsed name keeps its attributes but not
// necessarily their order or string types: copy Raw to keep the bytes.
type Name struct {
	Country            string // C, PrintableString
	Province           string // ST
	Locality           string // L
	Street             string // street
	Organization       string // O
	OrganizationalUnit string // OU
	Title              string // title
	CommonName         string // CN
	Surname            string // SN
	GivenName          string // GN: first name and patronymic
	Pseudonym          string
	Email              string // emailAddress, IA5String
	SerialNumber       string // serialNumber, PrintableString
	SNILS              string // 11 digits, NumericString
	INN                string // 12 digits, NumericString (legal entities: "00" + 10 digits)
	INNLE              string // 10 digits, NumericString
	OGRN               string // 13 digits, NumericString
	OGRNIP             string // 15 digits, NumericString

	// ExtraNames are written after the typed fields, in order.
	ExtraNames []AttributeTypeAndValue

	Attributes []AttributeTypeAndValue // as parsed
	Raw        []byte                  // DER of the parsed RDNSequence
}

// attributeInfo describes one known attribute: its names for String and
// ParseName, its DER string type, and the Name field it fills.
type attributeInfo struct {
	oid   asn1.ObjectIdentifier
	short string // RFC 4514 / OpenSSL short name
	tag   int
	field func(*Name) *string
}

// knownAttributes is in the order attributes are written: from the country
// down to the person, then the identifiers, as Russian qualified
// certificates list them.
var knownAttributes = []attributeInfo{
	{OIDCountry, "C", asn1.TagPrintableString, func(n *Name) *string { return &n.Country }},
	{OIDProvince, "ST", asn1.TagUTF8String, func(n *Name) *string { return &n.Province }},
	{OIDLocality, "L", asn1.TagUTF8String, func(n *Name) *string { return &n.Locality }},
	{OIDStreet, "street", asn1.TagUTF8String, func(n *Name) *string { return &n.Street }},
	{OIDOrganization, "O", asn1.TagUTF8String, func(n *Name) *string { return &n.Organization }},
	{OIDOrganizationalUnit, "OU", asn1.TagUTF8String, func(n *Name) *string { return &n.OrganizationalUnit }},
	{OIDTitle, "title", asn1.TagUTF8String, func(n *Name) *string { return &n.Title }},
	{OIDCommonName, "CN", asn1.TagUTF8String, func(n *Name) *string { return &n.CommonName }},
	{OIDSurname, "SN", asn1.TagUTF8String, func(n *Name) *string { return &n.Surname }},
	{OIDGivenName, "GN", asn1.TagUTF8String, func(n *Name) *string { return &n.GivenName }},
	{OIDPseudonym, "pseudonym", asn1.TagUTF8String, func(n *Name) *string { return &n.Pseudonym }},
	{OIDEmailAddress, "emailAddress", asn1.TagIA5String, func(n *Name) *string { return &n.Email }},
	{OIDSerialNumber, "serialNumber", asn1.TagPrintableString, func(n *Name) *string { return &n.SerialNumber }},
	{OIDSNILS, "SNILS", asn1.TagNumericString, func(n *Name) *string { return &n.SNILS }},
	{OIDINN, "INN", asn1.TagNumericString, func(n *Name) *string { return &n.INN }},
	{OIDINNLE, "INNLE", asn1.TagNumericString, func(n *Name) *string { return &n.INNLE }},
	{OIDOGRN, "OGRN", asn1.TagNumericString, func(n *Name) *string { return &n.OGRN }},
	{OIDOGRNIP, "OGRNIP", asn1.TagNumericString, func(n *Name) *string { return &n.OGRNIP }},
}

// Aliases ParseName accepts beside the short names above.
var attributeAliases = map[string]string{
	"COMMONNAME": "CN", "SURNAME": "SN", "GIVENNAME": "GN", "G": "GN",
	"COUNTRYNAME": "C", "STATEORPROVINCENAME": "ST", "S": "ST", "LOCALITYNAME": "L",
	"STREETADDRESS": "STREET", "ORGANIZATIONNAME": "O", "ORGANIZATIONALUNITNAME": "OU",
	"EMAIL": "EMAILADDRESS", "E": "EMAILADDRESS", "T": "TITLE",
	"СНИЛС": "SNILS", "ИНН": "INN", "ИННЮЛ": "INNLE", "ОГРН": "OGRN", "ОГРНИП": "OGRNIP",
}

func attributeByOID(oid asn1.ObjectIdentifier) *attributeInfo {
	for i := range knownAttributes {
		if knownAttributes[i].oid.Equal(oid) {
			return &knownAttributes[i]
		}
	}
	return nil
}

func attributeByName(name string) *attributeInfo {
	up := strings.ToUpper(name)
	if a, ok := attributeAliases[up]; ok {
		up = a
	}
	for i := range knownAttributes {
		if strings.ToUpper(knownAttributes[i].short) == up {
			return &knownAttributes[i]
		}
	}
	return nil
}

// rawAttribute is one AttributeTypeAndValue as it sits in the DER.
type rawAttribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParseNameDER decodes a DER RDNSequence (as found in RawSubject and
// RawIssuer). It is lenient about string types: a NumericString attribute
// written as PrintableString or UTF8String is read all the same.
func ParseNameDER(der []byte) (Name, error) {
	var rdns []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return Name{}, fmt.Errorf("pki: malformed name: %w", err)
	}
	if len(rest) != 0 {
		return Name{}, errors.New("pki: trailing data after name")
	}
	n := Name{Raw: append([]byte(nil), der...)}
	for i, rdn := range rdns {
		if rdn.Class != asn1.ClassUniversal || rdn.Tag != asn1.TagSet {
			return Name{}, errors.New("pki: malformed name: RDN is not a SET")
		}
		var atvs []rawAttribute
		if _, err := asn1.UnmarshalWithParams(rdn.FullBytes, &atvs, "set"); err != nil {
			return Name{}, fmt.Errorf("pki: malformed name: %w", err)
		}
		if len(atvs) == 0 {
			return Name{}, errors.New("pki: malformed name: empty RDN")
		}
		for _, atv := range atvs {
			s, err := decodeString(atv.Value)
			if err != nil {
				return Name{}, fmt.Errorf("pki: name attribute %v: %w", atv.Type, err)
			}
			n.Attributes = append(n.Attributes, AttributeTypeAndValue{Type: atv.Type, Value: s, Tag: atv.Value.Tag, rdn: i})
			if a := attributeByOID(atv.Type); a != nil {
				if f := a.field(&n); *f == "" {
					*f = s
					continue
				}
			}
			// Unknown and repeated attributes go to ExtraNames, so that
			// re-encoding a parsed name keeps them.
			tag := atv.Value.Tag
			switch tag {
			case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagNumericString, asn1.TagIA5String:
			default:
				tag = 0
			}
			n.ExtraNames = append(n.ExtraNames, AttributeTypeAndValue{Type: atv.Type, Value: s, Tag: tag})
		}
	}
	return n, nil
}

// decodeString reads any of the directory string types.
func decodeString(v asn1.RawValue) (string, error) {
	if v.Class != asn1.ClassUniversal {
		return "", fmt.Errorf("unexpected tag class %d", v.Class)
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String:
		if !utf8.Valid(b) {
			return "", errors.New("invalid UTF-8")
		}
		return string(b), nil
	case asn1.TagPrintableString, asn1.TagNumericString, asn1.TagIA5String, 26 /* VisibleString */ :
		// ASCII types; some encoders put UTF-8 or 8-bit text in them.
		if utf8.Valid(b) {
			return string(b), nil
		}
		return latin1(b), nil
	case asn1.TagT61String:
		// Treated as Latin-1, as most decoders do.
		return latin1(b), nil
	case asn1.TagBMPString:
		if len(b)%2 != 0 {
			return "", errors.New("odd-length BMPString")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	case 28: // UniversalString, UTF-32BE
		if len(b)%4 != 0 {
			return "", errors.New("bad UniversalString length")
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3]))
		}
		return string(r), nil
	}
	return "", fmt.Errorf("unsupported string type %d", v.Tag)
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// attributes lists what Marshal writes: typed fields in knownAttributes
// order, then ExtraNames.
func (n *Name) attributes() []AttributeTypeAndValue {
	var out []AttributeTypeAndValue
	for _, a := range knownAttributes {
		if v := *a.field(n); v != "" {
			out = append(out, AttributeTypeAndValue{Type: a.oid, Value: v, Tag: a.tag})
		}
	}
	return append(out, n.ExtraNames...)
}

// Marshal encodes the name as a DER RDNSequence, one attribute per RDN.
// A parsed name is re-encoded from its typed fields; use Raw to copy a
// name byte for byte.
func (n *Name) Marshal() ([]byte, error) {
	var rdns []asn1.RawValue
	for _, atv := range n.attributes() {
		tag := atv.Tag
		if tag == 0 {
			tag = asn1.TagUTF8String
			if a := attributeByOID(atv.Type); a != nil {
				tag = a.tag
			}
		}
		if err := checkStringType(tag, atv.Value); err != nil {
			return nil, fmt.Errorf("pki: name attribute %s: %w", attributeLabel(atv.Type), err)
		}
		der, err := asn1.MarshalWithParams([]rawAttribute{{atv.Type, asn1.RawValue{Tag: tag, Bytes: []byte(atv.Value)}}}, "set")
		if err != nil {
			return nil, fmt.Errorf("pki: name: %w", err)
		}
		rdns = append(rdns, asn1.RawValue{FullBytes: der})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, fmt.Errorf("pki: name: %w", err)
	}
	return der, nil
}

// checkStringType refuses s if tag's string type cannot hold it. Its
// errors leave s out: SNILS, INN and e-mail addresses are personal data,
// as QualifiedFieldError says.
func checkStringType(tag int, s string) error {
	switch tag {
	case asn1.TagNumericString:
		for _, c := range s {
			if (c < '0' || c > '9') && c != ' ' {
				return errors.New("not a NumericString (digits and spaces only)")
			}
		}
	case asn1.TagPrintableString:
		for _, c := range s {
			if !isPrintable(c) {
				return errors.New("not a PrintableString")
			}
		}
	case asn1.TagIA5String:
		for _, c := range s {
			if c > 0x7f {
				return errors.New("not an IA5String (ASCII only)")
			}
		}
	case asn1.TagUTF8String:
		if !utf8.ValidString(s) {
			return errors.New("invalid UTF-8")
		}
	default:
		return fmt.Errorf("cannot write string type %d", tag)
	}
	return nil
}

func isPrintable(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.ContainsRune(" '()+,-./:=?", c)
}

// attributeLabel is the short name of a known attribute, or its dotted OID.
func attributeLabel(oid asn1.ObjectIdentifier) string {
	if a := attributeByOID(oid); a != nil {
		return a.short
	}
	return oid.String()
}

// String formats the name in RFC 4514 style, most specific attribute first
// (the reverse of the encoding order), with the qualified attributes named
// SNILS, INN, INNLE, OGRN and OGRNIP and unknown ones as dotted OIDs.
func (n Name) String() string {
	atvs := n.Attributes
	if atvs == nil {
		atvs = n.attributes()
		for i := range atvs {
			atvs[i].rdn = i
		}
	}
	var b strings.Builder
	for i := len(atvs) - 1; i >= 0; i-- {
		if i < len(atvs)-1 {
			// Attributes of one multi-valued RDN are joined by '+'.
			if atvs[i].rdn == atvs[i+1].rdn {
				b.WriteByte('+')
			} else {
				b.WriteByte(',')
			}
		}
		b.WriteString(attributeLabel(atvs[i].Type) + "=" + escapeDNValue(atvs[i].Value))
	}
	return b.String()
}

func escapeDNValue(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case strings.ContainsRune(",+\"\\<>;", c),
			i == 0 && (c == ' ' || c == '#'),
			i == len(s)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\` + hex.EncodeToString([]byte{byte(c)}))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// ParseName reads a name written as RFC 4514 ("CN=Иванов,SNILS=…", most
// specific first) or as OpenSSL's -subj ("/C=RU/CN=Иванов"). Attribute
// names are the short names String writes (CN, SN, GN, SNILS, INN, …),
// common long forms, or dotted OIDs (written as UTF8String).
func ParseName(s string) (Name, error) {
	var parts []string
	slash := strings.HasPrefix(s, "/")
	if slash {
		parts = splitUnescaped(s[1:], '/')
	} else {
		parts = splitUnescaped(s, ',')
		// RFC 4514 lists the last RDN first.
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	var n Name
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return Name{}, fmt.Errorf("pki: name component %q has no '='", p)
		}
		k = strings.TrimSpace(k)
		v, err := unescapeDNValue(trimUnescapedSpace(v))
		if err != nil {
			return Name{}, fmt.Errorf("pki: name component %q: %w", k, err)
		}
		if a := attributeByName(k); a != nil {
			f := a.field(&n)
			if *f == "" {
				*f = v
				continue
			}
			n.ExtraNames = append(n.ExtraNames, AttributeTypeAndValue{Type: a.oid, Value: v, Tag: a.tag})
			continue
		}
		oid, err := parseOID(k)
		if err != nil {
			return Name{}, fmt.Errorf("pki: unknown name attribute %q", k)
		}
		n.ExtraNames = append(n.ExtraNames, AttributeTypeAndValue{Type: oid, Value: v})
	}
	return n, nil
}

// trimUnescapedSpace drops the spaces around a value but keeps an escaped
// trailing one ("a\ ").
func trimUnescapedSpace(s string) string {
	s = strings.TrimLeft(s, " ")
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\\ ") {
		s = s[:len(s)-1]
	}
	return s
}

func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unescapeDNValue(s string) (string, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("dangling backslash")
		}
		if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b = append(b, v[0])
			i += 2
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	if !utf8.Valid(b) {
		return "", errors.New("invalid UTF-8")
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, f := range strings.Split(s, ".") {
		v := 0
		if f == "" || len(f) > 9 {
			return nil, errors.New("bad OID")
		}
		for _, c := range f {
			if c < '0' || c > '9' {
				return nil, errors.New("bad OID")
			}
			v = v*10 + int(c-'0')
		}
		oid = append(oid, v)
	}
	if len(oid) < 2 {
		return nil, errors.New("bad OID")
	}
	return oid, nil
}
