package pkcs11_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/pkcs11"
	"github.com/gostkey/gostkey/pki"
)

// A command line flow: open the modules, pick a token, log in from a PIN
// file, make a GOST key and sign with it.
func Example() {
	ctx := context.Background()
	ms, err := pkcs11.OpenAll([]string{"/usr/lib/gostkey/libgostkey-softtoken.so"}, pkcs11.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ms.Close()
	tok, err := ms.FindToken("alice") // or "pkcs11:token=alice;serial=..."
	if err != nil {
		log.Fatal(err)
	}
	err = tok.Login(ctx, pkcs11.PINFile("/run/user/1000/pin"))
	var pe *pkcs11.PINError
	if errors.As(err, &pe) {
		log.Fatalf("%v (final try: %v, locked: %v)", err, pe.State.FinalTry, pe.State.Locked)
	} else if err != nil {
		log.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, pkcs11.KeySpec{Label: "signing key", Curve: gost.CurveTC26256A})
	if err != nil {
		log.Fatal(err)
	}
	sig, err := pki.Sign(rand.Reader, key, pki.GOST256, []byte("document"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d-byte signature\n", key.URI(), len(sig))
}

// The agent follows tokens coming and going.
func ExampleModules_Watch() {
	ms, err := pkcs11.OpenAll([]string{"/usr/lib/x86_64-linux-gnu/librtpkcs11ecp.so"}, pkcs11.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ms.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for ev := range ms.Watch(ctx) {
		switch ev.Type {
		case pkcs11.TokenInserted:
			tok, err := ev.Module.Token(ev.SlotID)
			if err != nil {
				continue // gone again
			}
			fmt.Println("token", tok.Info().Label, "inserted")
		case pkcs11.TokenRemoved:
			fmt.Println("token", ev.Token.Label, "removed")
		}
	}
}
