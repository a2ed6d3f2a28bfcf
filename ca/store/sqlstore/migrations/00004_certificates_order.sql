-- Certificates by enrollment order: an order's JSON names the certificate
-- it was redeemed for (CertificateFilter.OrderID).

-- +goose Up
CREATE INDEX certificates_order ON certificates (order_id) WHERE order_id IS NOT NULL;

-- +goose Down
DROP INDEX certificates_order;
