package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// RunTLS moves size bytes over one TLS 1.3 connection over TCP on nw, with
// the kernel's default congestion controller, as a deployment would.
//
// TLS 1.3 suites are not configurable in crypto/tls; it puts AES-128-GCM
// first on hardware with AES instructions (AES-NI with PCLMULQDQ, or the
// ARMv8 crypto extensions) and ChaCha20-Poly1305 first elsewhere. Detail
// records the negotiated suite so the row says which one was measured. The
// server authenticates with a self-signed ECDSA P-256 certificate made in
// process, outside the timed interval.
func RunTLS(ctx context.Context, nw Network, size int64) Result {
	cert, roots, err := selfSignedCert(time.Now())
	if err != nil {
		return failedResult(ProtocolTLS, err)
	}
	closers := new(closerSet)
	ln, err := nw.ListenTCP(ctx, nil)
	if err != nil {
		return failedResult(ProtocolTLS, fmt.Errorf("listen: %w", err))
	}
	closers.add(ln)

	serverConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	clientConfig := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	var (
		client *tls.Conn
		path   PathStats
	)
	return transfer(ctx, size, session{
		protocol: ProtocolTLS,
		closers:  closers,
		accept: func(ctx context.Context) (io.Reader, error) {
			c, err := ln.Accept()
			if err != nil {
				return nil, err
			}
			tc := tls.Server(c, serverConfig)
			closers.add(tc)
			if err := tc.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return tc, nil
		},
		dial: func(ctx context.Context) (io.Writer, error) {
			tcp, err := nw.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort(), nil)
			if err != nil {
				return nil, err
			}
			client = tls.Client(tcp, clientConfig)
			closers.add(client)
			if err := client.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return client, nil
		},
		// CloseWrite sends close_notify and then the TCP FIN.
		finish: func(context.Context) error { return client.CloseWrite() },
		stats: func() (uint64, string, error) {
			state := client.ConnectionState()
			if state.Version != tls.VersionTLS13 {
				return 0, "", fmt.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(state.Version))
			}
			info, err := tcpSenderStats(client.NetConn().(*net.TCPConn))
			if err != nil {
				return 0, "", err
			}
			path = info.path
			return info.retransmitted, tls.CipherSuiteName(state.CipherSuite) + ", cc " + info.congestion, nil
		},
		path: func() *PathStats { return &path },
	})
}

// selfSignedCert makes a P-256 certificate for localhost and 127.0.0.1 valid
// around now, and a pool that trusts it.
func selfSignedCert(now time.Time) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generating certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generating serial number: %w", err)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "qbench"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parsing certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
