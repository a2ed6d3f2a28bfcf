package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gostkey/gostkey/ca"
	"github.com/gostkey/gostkey/ca/store"
)

// Metrics are the CA's Prometheus metrics, on a registry of their own (no
// package globals: tests run servers side by side).
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	handler      http.Handler
}

// ExpiringWithin is the horizon of the expiring-soon gauge.
const ExpiringWithin = 30 * 24 * time.Hour

// NewMetrics registers the metrics; the expiring-soon gauge
// (gostkey_ca_certificates_expiring{within="30d"}) counts valid
// certificates expiring within 30 days of now, read from st at scrape time.
func NewMetrics(st store.Store, now func() time.Time) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gostkey_ca_http_requests_total", Help: "API requests by route and status.",
		}, []string{"route", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gostkey_ca_auth_failures_total", Help: "Failed operator authentications by reason.",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.requests, m.authFailures, &expiringCollector{st: st, now: now,
		desc: prometheus.NewDesc("gostkey_ca_certificates_expiring", "Valid certificates expiring within the horizon.", nil, prometheus.Labels{"within": "30d"}),
	}, &statusCollector{st: st, desc: prometheus.NewDesc("gostkey_ca_certificates", "Certificates by status.", []string{"status"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// AuthFailure counts a failed authentication (ca.OperatorsDeps.OnAuthFailure).
func (m *Metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

func (m *Metrics) request(route string, status int) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

type expiringCollector struct {
	st   store.Store
	now  func() time.Time
	desc *prometheus.Desc
}

func (c *expiringCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiringCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.now()
	var n int
	err := c.st.View(ctx, func(r store.Reader) error {
		var err error
		n, err = r.CountCertificates(ctx, store.CertificateFilter{Status: store.CertValid, NotAfterFrom: now, NotAfterBefore: now.Add(ExpiringWithin)})
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

type statusCollector struct {
	st   store.Store
	desc *prometheus.Desc
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, st := range []store.CertStatus{store.CertValid, store.CertRevoked, store.CertOnHold} {
		var n int
		err := c.st.View(ctx, func(r store.Reader) error {
			var err error
			n, err = r.CountCertificates(ctx, store.CertificateFilter{Status: st})
			return err
		})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(st))
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ ca.Principal) {
	s.d.Metrics.handler.ServeHTTP(w, r)
}
