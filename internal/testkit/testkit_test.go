package testkit

import (
	"strings"
	"testing"
)

func TestOpenSSLStreebogEmpty(t *testing.T) {
	out := OpenSSL(t, []byte{}, "dgst", "-streebog512", "-r")
	want := "8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7362f715528356ee83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a"
	if !strings.HasPrefix(string(out), want) {
		t.Fatalf("openssl dgst -streebog512 of empty input = %q, want prefix %s", out, want)
	}
}

func TestTryOpenSSLReportsFailure(t *testing.T) {
	if _, err := TryOpenSSL(t, nil, "dgst", "-streebog256", "/nonexistent/file"); err == nil {
		t.Fatal("an unknown openssl command succeeded")
	}
}
