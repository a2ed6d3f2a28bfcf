package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Whatever arrives as a JSON body of the public endpoints, the answer is a
// documented refusal with the error shape (or a certificate), never a
// server error.
func FuzzPublicBodies(f *testing.F) {
	for _, seed := range []string{
		`{"code":"0000-0000-0000-0","csr":"MA=="}`, `{"request":"MA=="}`, `{"code":"x","reason":"keyCompromise"}`,
		`{}`, `[]`, `null`, `{"code":1}`, `{"csr":"` + "\u0000" + `"}`, `{"a":{"b":[1,2,{}]}}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/enroll", "/v1/renew", "/v1/revoke"} {
			req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %q → %d %s", path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				var b struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
					t.Fatalf("%s %q → %d: not the error shape: %s", path, body, rec.Code, rec.Body)
				}
			} else if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
				t.Fatalf("%s %q → %d", path, body, rec.Code)
			}
		}
	})
}
