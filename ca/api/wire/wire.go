// Package wire holds the JSON shapes of the CA's HTTPS API (openapi.json
// describes the same), so that the server (ca/api) and its client
// (ca/client) encode and decode one definition. Times are RFC 3339 strings,
// serials 40 hex digits, certificates PEM.
package wire

// Identity is an applicant as registered: the qualified profile's names,
// SNILS and INN.
type Identity struct {
	Surname    string `json:"surname"`
	GivenName  string `json:"given_name"`
	Patronymic string `json:"patronymic,omitempty"`
	SNILS      string `json:"snils"`
	INN        string `json:"inn"`
	Email      string `json:"email,omitempty"`
}

// Registration answers POST /v1/orders; it carries the one-time code, the
// only time the CA shows it.
type Registration struct {
	OrderID   string `json:"order_id"`
	Code      string `json:"code"`
	Link      string `json:"link"`
	ExpiresAt string `json:"expires_at"`
	QRPNG     string `json:"qr_png"`
}

// Order is an enrollment order.
type Order struct {
	OrderID           string   `json:"order_id"`
	Status            string   `json:"status"`
	Identity          Identity `json:"identity"`
	CreatedAt         string   `json:"created_at"`
	ExpiresAt         string   `json:"expires_at"`
	Failures          int      `json:"failures"`
	CertificateSerial string   `json:"certificate_serial,omitempty"`
}

// Issued answers /v1/enroll and /v1/renew: the certificate and its chain, PEM.
type Issued struct {
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain"`
	Serial      string   `json:"serial"`
}

// Certificate is a certificate as the CA keeps it.
type Certificate struct {
	Serial      string   `json:"serial"`
	Status      string   `json:"status"`
	Subject     string   `json:"subject"`
	Identity    Identity `json:"identity"`
	NotBefore   string   `json:"not_before"`
	NotAfter    string   `json:"not_after"`
	RevokedAt   string   `json:"revoked_at,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Predecessor string   `json:"predecessor,omitempty"`
	Successor   string   `json:"successor,omitempty"`
	PEM         string   `json:"pem"`
}

// Revoked answers POST /v1/revoke.
type Revoked struct {
	Serial    string `json:"serial"`
	Status    string `json:"status"`
	RevokedAt string `json:"revoked_at"`
	Reason    string `json:"reason"`
}

// Operator is a CA operator.
type Operator struct {
	OperatorID string `json:"operator_id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Disabled   bool   `json:"disabled"`
	CreatedAt  string `json:"created_at"`
}

// Token answers the creation of an operator's API token, shown once.
type Token struct {
	TokenID   string   `json:"token_id"`
	Token     string   `json:"token"`
	ExpiresAt string   `json:"expires_at"`
	CIDRs     []string `json:"cidrs,omitempty"`
}
