package pkcs11

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

const uriScheme = "pkcs11:"

// URI is an RFC 7512 pkcs11: URI naming a token, and optionally an object
// on it. Empty fields are absent from the URI and match anything.
//
// The path attributes understood are token, manufacturer, serial, model,
// slot-id, object, id and type; the query attributes module-path,
// module-name and pin-source. pin-value is refused: PINs do not belong in names (use
// pin-source, a file). Any other attribute is an error rather than being
// ignored, since ignoring a constraint could pick the wrong key.
type URI struct {
	Token        string // token label
	Manufacturer string // token manufacturer
	Serial       string // token serial number
	Model        string // token model
	SlotID       *uint  // slot-id
	Object       string // object label (CKA_LABEL)
	ID           []byte // object CKA_ID
	Type         string // "private", "public", "cert", "secret-key" or "data"
	ModulePath   string // module-path: the module's file
	ModuleName   string // module-name: the module's file name, "lib" and ".so" optional
	PINSource    string // pin-source: a file holding the PIN (see PINFile)
}

var errPINValue = errors.New("pkcs11: URI attribute pin-value refused: give the PIN in a file with pin-source")

var objectTypes = map[string]bool{"private": true, "public": true, "cert": true, "secret-key": true, "data": true}

// ParseURI parses a pkcs11: URI.
func ParseURI(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(s, uriScheme)
	if !ok {
		return nil, fmt.Errorf("pkcs11: URI %q does not start with %q", s, uriScheme)
	}
	u := &URI{}
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("pkcs11: URI path attribute %q is not name=value", attr)
			}
			if seen[name] {
				return nil, fmt.Errorf("pkcs11: URI repeats attribute %q", name)
			}
			seen[name] = true
			if name == "pin-value" {
				return nil, errPINValue // before decoding: a decoding error would quote it
			}
			v, err := pctDecode(raw, isPathChar)
			if err != nil {
				return nil, fmt.Errorf("pkcs11: URI attribute %s: %w", name, err)
			}
			if err := u.setPath(name, v); err != nil {
				return nil, err
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("pkcs11: URI query attribute %q is not name=value", attr)
			}
			if seen["?"+name] {
				return nil, fmt.Errorf("pkcs11: URI repeats attribute %q", name)
			}
			seen["?"+name] = true
			if name == "pin-value" {
				return nil, errPINValue
			}
			v, err := pctDecode(raw, isQueryChar)
			if err != nil {
				return nil, fmt.Errorf("pkcs11: URI attribute %s: %w", name, err)
			}
			switch name {
			case "module-path":
				u.ModulePath = string(v)
			case "module-name":
				u.ModuleName = string(v)
			case "pin-source":
				u.PINSource = string(v)
			default:
				return nil, fmt.Errorf("pkcs11: URI query attribute %q not supported", name)
			}
		}
	}
	return u, nil
}

func (u *URI) setPath(name string, v []byte) error {
	switch name {
	case "token":
		u.Token = string(v)
	case "manufacturer":
		u.Manufacturer = string(v)
	case "serial":
		u.Serial = string(v)
	case "model":
		u.Model = string(v)
	case "object":
		u.Object = string(v)
	case "id":
		u.ID = v
	case "type":
		if !objectTypes[string(v)] {
			return fmt.Errorf("pkcs11: URI object type %q unknown", v)
		}
		u.Type = string(v)
	case "slot-id":
		n, err := strconv.ParseUint(string(v), 10, 0)
		if err != nil {
			return fmt.Errorf("pkcs11: URI slot-id %q is not a decimal number", v)
		}
		id := uint(n)
		u.SlotID = &id
	default:
		return fmt.Errorf("pkcs11: URI path attribute %q not supported", name)
	}
	return nil
}

// String formats the URI, attributes in the RFC's order, percent-encoding
// what the RFC reserves. id is always fully percent-encoded.
func (u *URI) String() string {
	var path []string
	add := func(name, v string) {
		if v != "" {
			path = append(path, name+"="+pctEncode([]byte(v), isPathChar))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("serial", u.Serial)
	add("model", u.Model)
	if u.SlotID != nil {
		path = append(path, "slot-id="+strconv.FormatUint(uint64(*u.SlotID), 10))
	}
	add("object", u.Object)
	if len(u.ID) > 0 {
		path = append(path, "id="+pctEncode(u.ID, func(byte) bool { return false }))
	}
	add("type", u.Type)
	var query []string
	if u.ModulePath != "" {
		query = append(query, "module-path="+pctEncode([]byte(u.ModulePath), isQueryChar))
	}
	if u.ModuleName != "" {
		query = append(query, "module-name="+pctEncode([]byte(u.ModuleName), isQueryChar))
	}
	if u.PINSource != "" {
		query = append(query, "pin-source="+pctEncode([]byte(u.PINSource), isQueryChar))
	}
	s := uriScheme + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// MatchToken reports whether the URI's token attributes all match info.
func (u *URI) MatchToken(info TokenInfo) bool {
	return (u.Token == "" || u.Token == info.Label) &&
		(u.Manufacturer == "" || u.Manufacturer == info.Manufacturer) &&
		(u.Serial == "" || u.Serial == info.Serial) &&
		(u.Model == "" || u.Model == info.Model) &&
		(u.SlotID == nil || *u.SlotID == info.SlotID)
}

// MatchModule reports whether the URI's module-path and module-name match
// a module opened from path.
func (u *URI) MatchModule(path string) bool {
	if u.ModulePath != "" && !samePath(u.ModulePath, path) {
		return false
	}
	if u.ModuleName == "" {
		return true
	}
	base := filepath.Base(path)
	bare := strings.TrimPrefix(base, "lib")
	if i := strings.Index(bare, ".so"); i >= 0 {
		bare = bare[:i]
	}
	return u.ModuleName == base || u.ModuleName == bare
}

// PINFile is the file named by pin-source, which may be a plain path or a
// file: URI; other sources are an error.
func (u *URI) PINFile() (string, error) {
	src := u.PINSource
	switch {
	case src == "":
		return "", errors.New("pkcs11: URI has no pin-source")
	case strings.HasPrefix(src, "file://"):
		return strings.TrimPrefix(src, "file://"), nil
	case strings.HasPrefix(src, "file:"):
		return strings.TrimPrefix(src, "file:"), nil
	case strings.Contains(src, ":") || strings.HasPrefix(src, "|"):
		return "", fmt.Errorf("pkcs11: pin-source %q: only files are supported", src)
	}
	return src, nil
}

// matchObject reports whether the URI's object attributes match a key or
// certificate with this label and CKA_ID.
func (u *URI) matchObject(label string, id []byte) bool {
	return (u.Object == "" || u.Object == label) && (u.ID == nil || bytes.Equal(u.ID, id))
}

// isPathChar: RFC 7512 pk11-pchar without pct-encoded, i.e. unreserved
// plus pk11-res-avail.
func isPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:[]@!$'()*+,=", c) >= 0
}

// isQueryChar: pk11-qchar, which adds "/", "?" and "|" to the path set.
func isQueryChar(c byte) bool {
	return isPathChar(c) || c == '/' || c == '?' || c == '|'
}

func pctEncode(b []byte, plain func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		if plain(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

func pctDecode(s string, plain func(byte) bool) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+3 > len(s) {
				return nil, fmt.Errorf("truncated percent-encoding in %q", s)
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad percent-encoding in %q", s)
			}
			out = append(out, byte(n))
			i += 2
		case plain(c):
			out = append(out, c)
		default:
			return nil, fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	return out, nil
}
