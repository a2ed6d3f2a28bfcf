package pki

import (
	"encoding/asn1"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func TestNameMarshalBytes(t *testing.T) {
	n := Name{Country: "RU", CommonName: "Иванов", SNILS: "11223344595"}
	der, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "303c" +
		"310b" + "3009" + "0603550406" + "13025255" + // C, PrintableString
		"3115" + "3013" + "0603550403" + "0c0cd098d0b2d0b0d0bdd0bed0b2" + // CN, UTF8String
		"3116" + "3014" + "06052a85036403" + "120b3131323233333434353935" // SNILS, NumericString
	if got := hex.EncodeToString(der); got != want {
		t.Fatalf("DER\n got %s\nwant %s", got, want)
	}
	parsed, err := ParseNameDER(der)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.CommonName != "Иванов" || parsed.SNILS != "11223344595" || parsed.Country != "RU" {
		t.Fatalf("parsed %+v", parsed)
	}
	if got := parsed.String(); got != "SNILS=11223344595,CN=Иванов,C=RU" {
		t.Fatalf("String = %q", got)
	}
	if got := n.String(); got != parsed.String() {
		t.Fatalf("template String %q != parsed %q", got, parsed.String())
	}
}

func TestNameQualifiedTypes(t *testing.T) {
	n := Name{
		CommonName: "ООО «Ромашка»", Surname: "Иванов", GivenName: "Иван Иванович", Title: "Директор",
		Organization: "ООО «Ромашка»", OrganizationalUnit: "Бухгалтерия", Locality: "Москва",
		Province: "77 г. Москва", Street: "ул. Тверская, д. 1", Country: "RU", Email: "ivan@example.ru",
		SNILS: "11223344595", INN: "500100732259", INNLE: "7707083893", OGRN: "1027700132195", OGRNIP: "304500116000157",
	}
	der, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var sets []asn1.RawValue
	if _, err := asn1.Unmarshal(der, &sets); err != nil {
		t.Fatal(err)
	}
	wantTag := map[string]int{
		"2.5.4.6": asn1.TagPrintableString, "1.2.840.113549.1.9.1": asn1.TagIA5String,
		"1.2.643.100.3": asn1.TagNumericString, "1.2.643.3.131.1.1": asn1.TagNumericString,
		"1.2.643.100.4": asn1.TagNumericString, "1.2.643.100.1": asn1.TagNumericString,
		"1.2.643.100.5": asn1.TagNumericString,
	}
	for _, set := range sets {
		var rdn []rawAttribute
		if _, err := asn1.UnmarshalWithParams(set.FullBytes, &rdn, "set"); err != nil {
			t.Fatal(err)
		}
		if len(rdn) != 1 {
			t.Fatalf("RDN with %d attributes", len(rdn))
		}
		tag, ok := wantTag[rdn[0].Type.String()]
		if !ok {
			tag = asn1.TagUTF8String
		}
		if rdn[0].Value.Tag != tag {
			t.Errorf("%v written with tag %d, want %d", rdn[0].Type, rdn[0].Value.Tag, tag)
		}
	}
	parsed, err := ParseNameDER(der)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Attributes, parsed.Raw = nil, nil
	if !reflect.DeepEqual(parsed, n) {
		t.Fatalf("round trip\n got %+v\nwant %+v", parsed, n)
	}
	for _, want := range []string{"SNILS=11223344595", "INN=500100732259", "INNLE=7707083893", "OGRN=1027700132195", "OGRNIP=304500116000157", `street=ул. Тверская\, д. 1`} {
		if !strings.Contains(n.String(), want) {
			t.Errorf("String %q lacks %q", n.String(), want)
		}
	}
}

func TestNameRejectsBadStrings(t *testing.T) {
	for _, tt := range []struct {
		n     Name
		value string
	}{{Name{SNILS: "112-233-445 95"}, "112-233-445"}, {Name{Country: "РФ"}, "РФ"}, {Name{Email: "иван@example.ru"}, "иван"}} {
		_, err := tt.n.Marshal()
		if err == nil {
			t.Errorf("%+v marshalled", tt.n)
			continue
		}
		// Personal data stays out of errors, which end up in logs.
		if strings.Contains(err.Error(), tt.value) {
			t.Errorf("error %q shows the value", err)
		}
	}
}

func TestParseNameDERLenient(t *testing.T) {
	// INNLE as PrintableString, CN as BMPString, O as TeletexString.
	raw := []rawAttribute{
		{OIDINNLE, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("7707083893")}},
		{OIDCommonName, asn1.RawValue{Tag: asn1.TagBMPString, Bytes: []byte{0x04, 0x10, 0x04, 0x11}}},
		{OIDOrganization, asn1.RawValue{Tag: asn1.TagT61String, Bytes: []byte{'c', 0xe9}}},
		{asn1.ObjectIdentifier{1, 2, 3, 4}, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("x,y")}},
		{OIDLocality, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte{'M', 0xfc}}}, // 8-bit text in an ASCII type
	}
	var rdns []asn1.RawValue
	for _, a := range raw {
		b, err := asn1.MarshalWithParams([]rawAttribute{a}, "set")
		if err != nil {
			t.Fatal(err)
		}
		rdns = append(rdns, asn1.RawValue{FullBytes: b})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ParseNameDER(der)
	if err != nil {
		t.Fatal(err)
	}
	if n.INNLE != "7707083893" || n.CommonName != "АБ" || n.Organization != "cé" || n.Locality != "Mü" {
		t.Fatalf("parsed %+v", n)
	}
	if got, want := n.String(), `L=Mü,1.2.3.4=x\,y,O=cé,CN=АБ,INNLE=7707083893`; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if _, err := ParseNameDER(append(der, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func TestParseName(t *testing.T) {
	want := Name{Country: "RU", CommonName: "Иванов Иван", SNILS: "11223344595", INN: "500100732259", GivenName: "Иван Иванович"}
	tests := []string{
		"/C=RU/CN=Иванов Иван/GN=Иван Иванович/SNILS=11223344595/INN=500100732259",
		"INN=500100732259,SNILS=11223344595,GN=Иван Иванович,CN=Иванов Иван,C=RU",
		"ИНН=500100732259, СНИЛС=11223344595, givenName=Иван Иванович, commonName=Иванов Иван, C=RU",
	}
	for _, s := range tests {
		n, err := ParseName(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		a, _ := n.Marshal()
		b, _ := want.Marshal()
		if string(a) != string(b) {
			t.Errorf("%q parsed as %+v", s, n)
		}
	}
	n, err := ParseName(`CN=a\,b\+c\5C,1.2.3.4=v`)
	if err != nil {
		t.Fatal(err)
	}
	if n.CommonName != `a,b+c\` || len(n.ExtraNames) != 1 || n.ExtraNames[0].Value != "v" {
		t.Fatalf("parsed %+v", n)
	}
	if got := n.String(); got != `1.2.3.4=v,CN=a\,b\+c\\` {
		t.Fatalf("String = %q", got)
	}
	for _, bad := range []string{"CN", "XX=1", "CN=a\\", "1.x=3"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) succeeded", bad)
		}
	}
}

func TestNameStringMultiValuedRDN(t *testing.T) {
	set, err := asn1.MarshalWithParams([]rawAttribute{
		{OIDCommonName, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("Иванов")}},
		{OIDSNILS, asn1.RawValue{Tag: asn1.TagNumericString, Bytes: []byte("11223344595")}},
	}, "set")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := asn1.MarshalWithParams([]rawAttribute{{OIDCountry, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("RU")}}}, "set")
	der, err := asn1.Marshal([]asn1.RawValue{{FullBytes: c}, {FullBytes: set}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := ParseNameDER(der)
	if err != nil {
		t.Fatal(err)
	}
	// DER sorts SET members, so either order of the pair is right.
	if got := n.String(); got != "SNILS=11223344595+CN=Иванов,C=RU" && got != "CN=Иванов+SNILS=11223344595,C=RU" {
		t.Fatalf("String = %q", got)
	}
	if n.SNILS != "11223344595" || n.CommonName != "Иванов" {
		t.Fatalf("parsed %+v", n)
	}
}

func TestParsedNameReencodesAllAttributes(t *testing.T) {
	n := Name{CommonName: "a", ExtraNames: []AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{1, 2, 3}, Value: "x"},
		{Type: OIDCommonName, Value: "b"},
		{Type: OIDSNILS, Value: "11223344595", Tag: asn1.TagPrintableString},
	}}
	der, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseNameDER(der)
	if err != nil {
		t.Fatal(err)
	}
	again, err := parsed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseNameDER(again)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != "CN=b,1.2.3=x,SNILS=11223344595,CN=a" || back.SNILS != "11223344595" {
		t.Fatalf("re-encoded as %q", back.String())
	}
}
