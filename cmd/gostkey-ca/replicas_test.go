package main

import (
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gostkey/gostkey/ca/config"
	"github.com/gostkey/gostkey/ca/store/postgres/pgtest"
	"github.com/gostkey/gostkey/pki"
)

// TestTwoReplicasOnPostgres is issue 10's replica slice: one CA initialised
// on a throwaway PostgreSQL cluster, its directory copied so the second
// replica has its own copy of the softtoken (the same keys on two tokens),
// two real serve processes on the one database. 50 concurrent redemptions of
// one code through both give one certificate; revocations through both give
// CRL numbers that increase across replicas; the journal verifies.
func TestTwoReplicasOnPostgres(t *testing.T) {
	const clients = 50
	pg := pgtest.Start(t, false)
	if pg == nil {
		return
	}
	module := softtokenModule(t)
	bin := binary(t)
	tmp := t.TempDir()
	cheapSofttoken(t, tmp)
	dirA, dirB := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	dsn := pg.CreateDB(t)
	adminToken := initCA(t, bin, dirA, "--module", module, "--database-dsn", dsn)
	if _, err := os.Stat(filepath.Join(dirA, "ca.db")); !os.IsNotExist(err) {
		t.Errorf("init on PostgreSQL left a SQLite file: %v", err)
	}
	// A second init on the same database is refused: it would chain a new
	// CA onto this one's journal.
	if r := runBin(t, bin, "init", "--dir", filepath.Join(tmp, "other"), "--module", module, "--database-dsn", dsn); r.code == 0 || !strings.Contains(r.stderr, "already holds a CA") {
		t.Errorf("second init on one database: %d %s", r.code, r.stderr)
	}

	// Replica B: a copy of A's directory (its own softtoken store, the same
	// keys), its own listeners; the same database and public URLs.
	if out, err := exec.Command("cp", "-a", dirA, dirB).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	cfgA, cfgB := filepath.Join(dirA, "ca.json"), filepath.Join(dirB, "ca.json")
	a, err := config.Load(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	if a.Database.Driver != "postgres" || a.Database.DSN != dsn {
		t.Fatalf("ca.json database: %+v", a.Database)
	}
	b, err := config.Load(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []*string{&b.Listen, &b.HTTPListen} {
		if *addr, err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	b.APIURL = "https://" + b.Listen
	// The 49 losing redemptions come from one address: above the per-client
	// failure limit, which would refuse the enrollments after them.
	for _, c := range []struct {
		cfg  *config.Config
		path string
	}{{a, cfgA}, {b, cfgB}} {
		c.cfg.Enrollment.ClientFailures = 2 * clients
		if err := os.Remove(c.path); err != nil { // Write refuses to overwrite
			t.Fatal(err)
		}
		if err := c.cfg.Write(c.path); err != nil {
			t.Fatal(err)
		}
	}
	srvA := startServer(t, bin, cfgA, a)
	srvB := startServer(t, bin, cfgB, b)
	replicas := []*server{srvA, srvB}

	var op, tok map[string]any
	st, body := srvA.api(t, "POST", "/v1/operators", adminToken, map[string]string{"name": "registrar-1", "role": "registrar"})
	if st != 201 || json.Unmarshal(body, &op) != nil {
		t.Fatalf("create operator: %d %s", st, body)
	}
	// The token is made through B: operators are in the database, not in a replica.
	st, body = srvB.api(t, "POST", "/v1/operators/"+op["operator_id"].(string)+"/tokens", adminToken, map[string]any{"expires_in": "1h"})
	if st != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("create token: %d %s", st, body)
	}
	regToken := tok["token"].(string)
	register := func(s *server, snils, inn string) string {
		t.Helper()
		var order map[string]any
		st, body := s.api(t, "POST", "/v1/orders", regToken, map[string]string{"surname": "Петрова", "given_name": "Анна", "snils": snils, "inn": inn})
		if st != 201 || json.Unmarshal(body, &order) != nil {
			t.Fatalf("register %s: %d %s", snils, st, body)
		}
		return order["code"].(string)
	}

	code := register(srvA, "08765430300", "773301001840")
	csrs := make([]string, clients)
	for i := range csrs {
		csrs[i] = testCSR(t)
	}
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answers := make([]answer, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			<-start
			st, b, err := replicas[i%2].request("POST", "/v1/enroll", "", map[string]string{"code": code, "csr": csrs[i]})
			answers[i] = answer{st, b, err}
		})
	}
	close(start)
	wg.Wait()
	var serials []string
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("enroll through replica %d: %v", i%2, a.err)
		case a.status == 201:
			var out struct{ Serial string }
			if err := json.Unmarshal(a.body, &out); err != nil || out.Serial == "" {
				t.Fatalf("enroll answer: %v %s", err, a.body)
			}
			serials = append(serials, out.Serial)
		case a.status != 409 || !strings.Contains(string(a.body), `"code_used"`):
			t.Errorf("a losing redemption through replica %d: %d %s; want 409 code_used", i%2, a.status, a.body)
		}
	}
	if len(serials) != 1 {
		t.Fatalf("%d certificates for one code through two replicas; want 1", len(serials))
	}
	for i, s := range replicas {
		st, body := s.api(t, "GET", "/v1/certificates?snils=08765430300", adminToken, nil)
		var list struct{ Certificates []any }
		if st != 200 || json.Unmarshal(body, &list) != nil || len(list.Certificates) != 1 {
			t.Errorf("certificates of the applicant through replica %d: %d %s; want one", i, st, body)
		}
	}

	// Three more certificates, each enrolled through the other replica
	// from the one that registered it.
	for i, p := range [][2]string{{"11223344595", "770708389324"}, {"12345678964", "500123456750"}, {"23456789099", "781234567870"}} {
		snils := p[0]
		code := register(replicas[i%2], snils, p[1])
		st, body := replicas[(i+1)%2].api(t, "POST", "/v1/enroll", "", map[string]string{"code": code, "csr": testCSR(t)})
		var out struct{ Serial string }
		if st != 201 || json.Unmarshal(body, &out) != nil {
			t.Fatalf("enroll %s: %d %s", snils, st, body)
		}
		serials = append(serials, out.Serial)
	}

	// Each revocation publishes a CRL; CRLs are served from the database,
	// so both replicas then serve the same one, numbered above every
	// earlier one whichever replica made it.
	crlNumber := func(cfg *config.Config) (*big.Int, []string) {
		t.Helper()
		resp, err := http.Get("http://" + cfg.HTTPListen + "/crl/issuing.crl")
		if err != nil {
			t.Fatal(err)
		}
		der, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CRL from %s: %d %v", cfg.HTTPListen, resp.StatusCode, err)
		}
		crl, err := pki.ParseCRL(der)
		if err != nil {
			t.Fatal(err)
		}
		if crl.Number == nil {
			t.Fatalf("CRL from %s without a number", cfg.HTTPListen)
		}
		var listed []string
		for _, e := range crl.RevokedCertificates {
			listed = append(listed, e.SerialNumber.Text(16))
		}
		return crl.Number, listed
	}
	cfgs := []*config.Config{a, b}
	last, _ := crlNumber(a)
	for i, serial := range serials {
		s := replicas[i%2]
		st, body := s.api(t, "POST", "/v1/certificates/"+serial+"/revoke", regToken, map[string]string{"reason": "keyCompromise"})
		if st != 200 || !strings.Contains(string(body), `"status":"revoked"`) {
			t.Fatalf("revoke %s through replica %d: %d %s", serial, i%2, st, body)
		}
		var numbers []*big.Int
		for j := range replicas {
			n, listed := crlNumber(cfgs[j])
			if n.Cmp(last) <= 0 {
				t.Errorf("after revocation %d through replica %d: replica %d serves CRL number %v, not above %v", i, i%2, j, n, last)
			}
			if len(listed) != i+1 || !slices.Contains(listed, hexSerial(t, serial)) {
				t.Errorf("after revocation %d: replica %d's CRL lists %v; want %d entries with %s", i, j, listed, i+1, serial)
			}
			numbers = append(numbers, n)
		}
		if numbers[0].Cmp(numbers[1]) != 0 {
			t.Errorf("after revocation %d the replicas serve CRLs %v and %v; want the database's latest from both", i, numbers[0], numbers[1])
		}
		last = numbers[0]
	}

	for i, s := range replicas {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("replica %d after SIGTERM: %v\n%s", i, err, s.stderr.String())
		}
	}
	for _, cfgPath := range []string{cfgA, cfgB} {
		if r := runBin(t, bin, "audit", "verify", "--config", cfgPath); r.code != 0 || !strings.HasPrefix(r.stdout, "audit journal intact: ") {
			t.Errorf("audit verify (%s): %d %s %s", cfgPath, r.code, r.stdout, r.stderr)
		}
	}
}

// hexSerial is the API's hex serial as big.Int.Text(16) spells it.
func hexSerial(t *testing.T, s string) string {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("serial %q is not hex", s)
	}
	return n.Text(16)
}
