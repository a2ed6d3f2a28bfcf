package pkcs11

import (
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// standardMechanismNames covers the standard mechanisms a signing token
// typically lists; others print as hex.
var standardMechanismNames = map[uint]string{
	p11.CKM_RSA_PKCS_KEY_PAIR_GEN: "CKM_RSA_PKCS_KEY_PAIR_GEN",
	p11.CKM_RSA_PKCS:              "CKM_RSA_PKCS",
	p11.CKM_RSA_PKCS_PSS:          "CKM_RSA_PKCS_PSS",
	p11.CKM_SHA256_RSA_PKCS:       "CKM_SHA256_RSA_PKCS",
	p11.CKM_EC_KEY_PAIR_GEN:       "CKM_EC_KEY_PAIR_GEN",
	p11.CKM_ECDSA:                 "CKM_ECDSA",
	p11.CKM_ECDSA_SHA256:          "CKM_ECDSA_SHA256",
	p11.CKM_ECDSA_SHA384:          "CKM_ECDSA_SHA384",
	p11.CKM_ECDSA_SHA512:          "CKM_ECDSA_SHA512",
	p11.CKM_SHA256:                "CKM_SHA256",
	p11.CKM_SHA384:                "CKM_SHA384",
	p11.CKM_SHA512:                "CKM_SHA512",
	p11.CKM_AES_KEY_GEN:           "CKM_AES_KEY_GEN",
}

// MechanismName names a mechanism ("CKM_GOSTR3410"), or gives its number
// in hex when unknown.
func MechanismName(m uint) string {
	if n, ok := mechanismNames[m]; ok {
		return n
	}
	if n, ok := standardMechanismNames[m]; ok {
		return n
	}
	return fmt.Sprintf("0x%08X", m)
}
