package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// BenchmarkHandshakeRate is connections a listener completes per second,
// one client at a time on loopback, each dial on a socket of its own and
// closed at once: limpet's Noise handshake against TLS 1.3 over TCP (Go's
// defaults: ECDSA P-256 certificate, X25519MLKEM768 key exchange), in the
// same run (issue 18):
//
//	go test ./transport -run '^$' -bench HandshakeRate -benchtime 2s
func BenchmarkHandshakeRate(b *testing.B) {
	b.Run("limpet", func(b *testing.B) {
		key, _ := crypto.GenerateKey()
		ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, MaxConnsPerSource: 1 << 20, MaxHandshakesPerSource: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept(context.Background())
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ctx := context.Background()
		cfg := &Config{ServerKey: key.Public()}
		b.ResetTimer()
		for range b.N {
			c, err := Dial(ctx, ln.Addr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
	b.Run("tls13-tcp", func(b *testing.B) {
		cert, pool := selfSignedCert(b)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					c.(*tls.Conn).Handshake()
					c.Close()
				}()
			}
		}()
		cfg := &tls.Config{RootCAs: pool, ServerName: "limpet.test", MinVersion: tls.VersionTLS13}
		b.ResetTimer()
		for range b.N {
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	})
}

// selfSignedCert is an ECDSA P-256 certificate for limpet.test and a pool
// that trusts it.
func selfSignedCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "limpet.test"},
		DNSNames:              []string{"limpet.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, pool
}
