package pkcs11

import (
	"context"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/gost"
)

// RelabelKey moves the key pair and its certificate to the new label
// together; the key still signs under it; a taken label is refused and
// changes nothing.
func TestRelabelKey(t *testing.T) {
	ctx := context.Background()
	tok := loggedInToken(t, newStub(1), Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	other, err := tok.GenerateKey(ctx, KeySpec{Label: "other", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.RelabelKey(ctx, key, "other"); err == nil || !strings.Contains(err.Error(), "already has an object labelled") {
		t.Fatalf("relabel onto a taken label: %v", err)
	}
	if err := tok.RelabelKey(ctx, key, "k.prev-01"); err != nil {
		t.Fatal(err)
	}
	if key.Label() != "k.prev-01" {
		t.Errorf("Label() = %q", key.Label())
	}
	if _, err := tok.FindKey(ctx, "k"); err == nil {
		t.Error("the old label still finds a key")
	}
	found, err := tok.FindKey(ctx, "k.prev-01")
	if err != nil || !found.Public().(*gost.PublicKey).Equal(key.Public()) {
		t.Fatalf("the new label: %v", err)
	}
	digest := gost.Sum256([]byte("x"))
	sig, err := found.Sign(nil, digest[:], nil)
	if err != nil || !key.Public().(*gost.PublicKey).Verify(digest[:], sig) {
		t.Fatalf("signing under the new label: %v", err)
	}
	// The freed label can be taken by another key.
	if err := tok.RelabelKey(ctx, other, "k"); err != nil {
		t.Fatal(err)
	}
	if k, err := tok.FindKey(ctx, "k"); err != nil || !k.Public().(*gost.PublicKey).Equal(other.Public()) {
		t.Errorf("k after the swap: %v", err)
	}
	if err := tok.RelabelKey(ctx, other, ""); err == nil {
		t.Error("an empty label was accepted")
	}
}
