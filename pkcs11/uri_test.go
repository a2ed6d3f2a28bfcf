package pkcs11

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func uintp(v uint) *uint { return &v }

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want *URI
		// canon is String's output, when it differs from in.
		canon string
	}{
		{in: "pkcs11:", want: &URI{}},
		{in: "pkcs11:object=my-pubkey;type=public", want: &URI{Object: "my-pubkey", Type: "public"}},
		{in: "pkcs11:object=my-key;type=private?pin-source=file:/etc/token", want: &URI{Object: "my-key", Type: "private", PINSource: "file:/etc/token"}},
		{
			in: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BE%2D%C6%BA%AE%2C%D1%0B%2D%DF%C1%DD%9E%12%AB;serial=",
			want: &URI{Token: "The Software PKCS#11 Softtoken", Manufacturer: "Snake Oil, Inc.", Model: "1.0", Object: "my-certificate", Type: "cert",
				ID: []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbe, 0x2d, 0xc6, 0xba, 0xae, 0x2c, 0xd1, 0x0b, 0x2d, 0xdf, 0xc1, 0xdd, 0x9e, 0x12, 0xab}},
			canon: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;id=%69%95%3E%5C%F4%BE%2D%C6%BA%AE%2C%D1%0B%2D%DF%C1%DD%9E%12%AB;type=cert",
		},
		{in: "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert", want: &URI{Token: "A name with a substring %;", Object: "my-certificate", Type: "cert"}},
		{in: "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert", want: &URI{Token: "Name with a small A with acute: á", Object: "my-certificate", Type: "cert"}},
		{in: "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", want: &URI{Object: "my-sign-key", Type: "private", ModuleName: "mypkcs11"}},
		{in: "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1", want: &URI{Object: "my-sign-key", Type: "private", ModulePath: "/mnt/libmypkcs11.so.1"}},
		{in: "pkcs11:token=gost;slot-id=3", want: &URI{Token: "gost", SlotID: uintp(3)}},
		{in: "pkcs11:token=%D0%A0%D1%83%D1%82%D0%BE%D0%BA%D0%B5%D0%BD%2f1", want: &URI{Token: "Рутокен/1"}, canon: "pkcs11:token=%D0%A0%D1%83%D1%82%D0%BE%D0%BA%D0%B5%D0%BD%2F1"},
		{in: "pkcs11:id=%01%ff", want: &URI{ID: []byte{1, 0xff}}, canon: "pkcs11:id=%01%FF"},
		{in: "pkcs11:?module-path=/usr/lib/x%26y.so&pin-source=a%3Fb", want: &URI{ModulePath: "/usr/lib/x&y.so", PINSource: "a?b"}, canon: "pkcs11:?module-path=/usr/lib/x%26y.so&pin-source=a?b"},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(u, tt.want) {
			t.Errorf("ParseURI(%q) = %+v, want %+v", tt.in, u, tt.want)
		}
		canon := tt.canon
		if canon == "" {
			canon = tt.in
		}
		if got := u.String(); got != canon {
			t.Errorf("String() = %q, want %q", got, canon)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"pkcs12:token=x",
		"token=x",
		"pkcs11:token",
		"pkcs11:=x",
		"pkcs11:token=a;token=b",
		"pkcs11:token=a b",
		"pkcs11:token=a%2",
		"pkcs11:token=a%zz",
		"pkcs11:token=a/b",
		"pkcs11:type=secret",
		"pkcs11:slot-id=x",
		"pkcs11:slot-id=-1",
		"pkcs11:slot-description=Sun%20Metaslot",
		"pkcs11:token=my-token;vendor-aaa=value-a",
		"pkcs11:token=x?pin-value=1234",
		"pkcs11:token=x?vendor-bbb=value-b",
		"pkcs11:token=x?pin-source=a&pin-source=b",
		"pkcs11:token=x?pin-source=a;b",
	} {
		if u, err := ParseURI(in); err == nil {
			t.Errorf("ParseURI(%q) = %+v, want an error", in, u)
		}
	}
}

// TestURIErrorHidesPIN parses URIs that carry a PIN in a pin-value
// attribute, well-formed or not: the error refuses it without quoting it.
func TestURIErrorHidesPIN(t *testing.T) {
	for _, in := range []string{
		"pkcs11:token=x?pin-value=9371",
		"pkcs11:token=x?pin-value=9371%2",
		"pkcs11:token=x?pin-value=9371%zz",
		"pkcs11:token=x?pin-value=93 71",
		"pkcs11:token=x;pin-value=9371%2",
		"pkcs11:pin-value=93 71",
	} {
		_, err := ParseURI(in)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), "93") || strings.Contains(err.Error(), "71") {
			t.Errorf("ParseURI(%q) error quotes the PIN: %v", in, err)
		}
	}
}

func TestURIMatch(t *testing.T) {
	info := TokenInfo{SlotID: 2, Label: "tok", Manufacturer: "m", Model: "x", Serial: "42"}
	for in, want := range map[string]bool{
		"pkcs11:":                            true,
		"pkcs11:token=tok":                   true,
		"pkcs11:token=tok;serial=42;model=x": true,
		"pkcs11:token=tok;serial=43":         false,
		"pkcs11:manufacturer=M":              false,
		"pkcs11:slot-id=2":                   true,
		"pkcs11:slot-id=1":                   false,
	} {
		u, err := ParseURI(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.MatchToken(info); got != want {
			t.Errorf("%s matches: %v", in, got)
		}
	}
	for name, want := range map[string]bool{"softhsm2": true, "libsofthsm2.so": true, "softhsm": false, "libsofthsm2": false} {
		u := &URI{ModuleName: name}
		if got := u.MatchModule("/usr/lib/softhsm/libsofthsm2.so"); got != want {
			t.Errorf("module-name=%s matches: %v", name, got)
		}
	}
}

func TestURIPINFile(t *testing.T) {
	for src, want := range map[string]string{"file:/etc/pin": "/etc/pin", "file:///etc/pin": "/etc/pin", "pin.txt": "pin.txt", "|/bin/ask": "", "https://x/pin": "", "": ""} {
		got, err := (&URI{PINSource: src}).PINFile()
		if (err != nil) != (want == "") || got != want {
			t.Errorf("PINFile(%q) = %q, %v", src, got, err)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:", "pkcs11:token=a;object=b;id=%01;type=private?module-path=/x&pin-source=file:/p",
		"pkcs11:slot-id=1;serial=%20", "pkcs11:model=%C3%A1?module-name=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		again, err := ParseURI(u.String())
		if err != nil {
			t.Fatalf("String() of a parsed URI does not parse: %q: %v", u.String(), err)
		}
		// Absent and empty are the same; compare the formatted forms.
		if again.String() != u.String() || !bytes.Equal(again.ID, u.ID) {
			t.Fatalf("round trip: %q -> %q", u.String(), again.String())
		}
	})
}
