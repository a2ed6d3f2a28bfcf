package store

import (
	"errors"
	"strings"
	"testing"
)

func TestSerialText(t *testing.T) {
	var s Serial
	for i := range s {
		s[i] = byte(0x40 + i)
	}
	text := s.String()
	if text != "404142434445464748494a4b4c4d4e4f50515253" {
		t.Fatalf("String = %s", text)
	}
	for _, in := range []string{text, strings.ToUpper(text), "40:41:42:43:44:45:46:47:48:49:4A:4B:4C:4D:4E:4F:50:51:52:53"} {
		got, err := ParseSerial(in)
		if err != nil || got != s {
			t.Errorf("ParseSerial(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", text[:38], text + "00", "zz" + text[2:]} {
		if _, err := ParseSerial(bad); !errors.Is(err, ErrBadSerial) {
			t.Errorf("ParseSerial(%q) = %v", bad, err)
		}
	}
}

func TestReasonNames(t *testing.T) {
	for r, want := range map[RevocationReason]string{0: "unspecified", 1: "keyCompromise", 4: "superseded", 6: "certificateHold", 10: "aACompromise"} {
		if r.String() != want {
			t.Errorf("%d.String() = %s, want %s", r, r, want)
		}
		got, err := ParseRevocationReason(want)
		if err != nil || got != r {
			t.Errorf("ParseRevocationReason(%s) = %v, %v", want, got, err)
		}
	}
	if RevocationReason(7).String() != "RevocationReason(7)" {
		t.Error("reason 7 has a name")
	}
	for _, bad := range []string{"", "KeyCompromise", "7"} {
		if _, err := ParseRevocationReason(bad); !errors.Is(err, ErrBadReason) {
			t.Errorf("ParseRevocationReason(%q) = %v", bad, err)
		}
	}
}
