module github.com/gostkey/gostkey

go 1.26.0

require golang.org/x/crypto v0.58.0

require (
	github.com/miekg/pkcs11 v1.1.2
	github.com/rogpeppe/go-internal v1.14.1
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
