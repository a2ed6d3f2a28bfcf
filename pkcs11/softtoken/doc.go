// Package softtoken holds the tests of gostkey's software PKCS#11 module,
// libgostkey-softtoken.so, whose C sources live in this directory and are
// built by `make build` (see README.md for its configuration, token layout,
// mechanisms and attributes). The tests build the module, drive it with a C
// test program of their own (also under valgrind) and with OpenSC's
// pkcs11-tool, and check every signature with openssl and the gost engine.
package softtoken
