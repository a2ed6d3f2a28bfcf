module github.com/gostkey/gostkey

go 1.26.0

require golang.org/x/crypto v0.58.0

require (
	github.com/miekg/pkcs11 v1.1.2
	github.com/rogpeppe/go-internal v1.14.1
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require golang.org/x/tools v0.26.0 // indirect
