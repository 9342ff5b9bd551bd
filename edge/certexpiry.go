package edge

import (
	"crypto/tls"
	"crypto/x509"
	"strings"

	"github.com/hooktunnel/hooktunnel/certs"
)

// expiryObserver wraps the certificate source and records, for each host
// the edge serves (the apex and its tunnels' hosts), when the certificate
// it handed out expires: the hooktunnel_certificate_expiry metric.
type expiryObserver struct {
	certs.Source
	e *Edge
}

func (o expiryObserver) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert, err := o.Source.GetCertificate(hello)
	if err != nil || cert == nil {
		return cert, err
	}
	host := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if label, ok := o.e.hostLabel(host); ok {
		leaf := cert.Leaf
		if leaf == nil && len(cert.Certificate) > 0 {
			leaf, _ = x509.ParseCertificate(cert.Certificate[0])
		}
		if leaf != nil {
			o.e.metrics.certExpiry.WithLabelValues(label).Set(float64(leaf.NotAfter.Unix()))
		}
	}
	return cert, nil
}

// hostLabel bounds the host label to the apex and known tunnel hosts: a
// wildcard certificate answers any name, and names a sender makes up must
// not grow the series.
func (e *Edge) hostLabel(host string) (string, bool) {
	cfg := e.cfg.Load()
	if host == cfg.domain {
		return host, true
	}
	name, ok := strings.CutSuffix(host, "."+cfg.domain)
	if ok && e.tunnelLabel(name) != unknownTunnel {
		return host, true
	}
	return "", false
}
