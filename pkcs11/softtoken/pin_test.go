package softtoken

import (
	"regexp"
	"strings"
	"testing"
)

// TestMinPINLength checks the default PIN length limits as OpenSC's
// pkcs11-tool sees them: 6 to 64 announced, a 5-character SO PIN and user
// PIN refused with CKR_PIN_LEN_RANGE, 6 characters accepted.
func TestMinPINLength(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	e, _ := env(t)
	p := tool{t, module(t), e}
	if out, err := p.try("--init-token", "--slot", "0", "--label", "short", "--so-pin", "12345"); err == nil || !strings.Contains(out, "CKR_PIN_LEN_RANGE") {
		t.Errorf("a 5-character SO PIN was not refused (%v):\n%s", err, out)
	}
	p.run("--init-token", "--slot", "0", "--label", "short", "--so-pin", "123456")
	if out, err := p.try("--init-pin", "--slot", "0", "--so-pin", "123456", "--pin", "12345"); err == nil || !strings.Contains(out, "CKR_PIN_LEN_RANGE") {
		t.Errorf("a 5-character user PIN was not refused (%v):\n%s", err, out)
	}
	p.run("--init-pin", "--slot", "0", "--so-pin", "123456", "--pin", "654321")
	if out := p.run("--list-token-slots"); !regexp.MustCompile(`pin min/max\s*:\s*6/64\b`).MatchString(out) {
		t.Errorf("limits not announced as 6/64:\n%s", out)
	}
}
