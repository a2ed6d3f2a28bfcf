package code

import (
	"errors"
	"fmt"
	"net/url"
)

// The enrollment link is a custom-scheme URI, gostkey://enroll?ca=URL&code=CODE,
// handed to the agent (the desktop registers itself for the gostkey scheme; the
// QR code carries the same string). It is deliberately not an https URL on the
// CA: a code in an https URL would be sent in a request line, land in access
// logs, proxies and Referer headers, and be fetched by link previewers before
// the applicant opens it. A custom-scheme URI is never fetched by anything but
// the agent, which reads the code from it and sends it only in the body of
// POST /v1/enroll.

// LinkScheme is the URI scheme of enrollment links.
const LinkScheme = "gostkey"

// ErrLink reports a link that is not a well-formed enrollment link.
var ErrLink = errors.New("code: not an enrollment link")

// Link returns the enrollment link for the CA at caURL (an https URL) and s.
// The result contains the code: show it, never log it.
func Link(caURL string, s Secret) (string, error) {
	if err := checkCAURL(caURL); err != nil {
		return "", err
	}
	if !s.ok {
		return "", fmt.Errorf("%w: no code", ErrLink)
	}
	q := url.Values{"ca": {caURL}, "code": {s.Reveal()}}
	return (&url.URL{Scheme: LinkScheme, Host: "enroll", RawQuery: q.Encode()}).String(), nil
}

// ParseLink reads an enrollment link back into the CA's URL and the code. A
// mistyped code inside a well-formed link is ErrMistyped, as from Parse.
func ParseLink(link string) (caURL string, s Secret, err error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", Secret{}, fmt.Errorf("%w: unparsable", ErrLink)
	}
	if u.Scheme != LinkScheme || u.Host != "enroll" || (u.Path != "" && u.Path != "/") || u.User != nil || u.Fragment != "" {
		return "", Secret{}, fmt.Errorf("%w: want %s://enroll?ca=…&code=…", ErrLink, LinkScheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", Secret{}, fmt.Errorf("%w: bad query", ErrLink)
	}
	if len(q) != 2 || len(q["ca"]) != 1 || len(q["code"]) != 1 {
		return "", Secret{}, fmt.Errorf("%w: want exactly one ca and one code", ErrLink)
	}
	caURL = q.Get("ca")
	if err := checkCAURL(caURL); err != nil {
		return "", Secret{}, err
	}
	s, err = Parse(q.Get("code"))
	if err != nil {
		return "", Secret{}, err
	}
	return caURL, s, nil
}

func checkCAURL(caURL string) error {
	u, err := url.Parse(caURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: the CA URL must be a plain https URL", ErrLink)
	}
	return nil
}
