package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// alpn is the application protocol both sides offer; QUIC requires one.
const alpn = "limpet-bench"

// serverName is the name the certificate is made for and the client checks.
const serverName = "localhost"

// serverTLSConfig makes a self-signed ECDSA P-256 certificate, as the TLS
// row of the comparison uses, valid around now.
func serverTLSConfig(now time.Time) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "quicgo-peer"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{serverName},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{alpn},
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// clientTLSConfig trusts the one self-signed certificate the server
// presents, as if it had been pinned out of band, but still verifies it
// like any chain (signature, validity, name), so the client's handshake
// costs what a real client's would.
func clientTLSConfig() *tls.Config {
	return &tls.Config{
		ServerName: serverName,
		NextProtos: []string{alpn},
		MinVersion: tls.VersionTLS13,
		// The default verification needs a root known in advance; the
		// server's certificate is made at its start-up.
		InsecureSkipVerify: true,
		VerifyConnection:   verifySelfSigned,
	}
}

func verifySelfSigned(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) != 1 {
		return fmt.Errorf("server sent %d certificates, want 1 self-signed", len(cs.PeerCertificates))
	}
	leaf := cs.PeerCertificates[0]
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName}); err != nil {
		return fmt.Errorf("verifying server certificate: %w", err)
	}
	if cs.NegotiatedProtocol != alpn {
		return errors.New("server did not agree to ALPN " + alpn)
	}
	return nil
}
