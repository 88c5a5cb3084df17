package qsend

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/limpetnet/limpet/crypto"
)

// knownHosts is the trust-on-first-use record of receivers' keys, one
// "HOST:PORT KEY" line each, like ssh's known_hosts: the first connection to
// an address records the key the receiver proved, and later connections
// refuse any other key. Lines that do not parse are kept but ignored.
type knownHosts struct {
	path    string
	entries []knownHost
}

type knownHost struct {
	addr string
	key  crypto.PublicKey
	line int
}

// maxKnownHostsLen bounds how much of the file is read; a known_hosts file
// of a megabyte holds some ten thousand receivers.
const maxKnownHostsLen = 1 << 20

// loadKnownHosts reads path; a missing file is an empty record.
func loadKnownHosts(path string) (*knownHosts, error) {
	kh := &knownHosts{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return kh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading known hosts: %w", err)
	}
	if len(data) > maxKnownHostsLen {
		return nil, fmt.Errorf("reading known hosts: %s is larger than %d bytes", path, maxKnownHostsLen)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		addr, err := normalizeAddr(fields[0])
		if err != nil {
			continue
		}
		key, err := crypto.ParsePublicKey(fields[1])
		if err != nil {
			continue
		}
		kh.entries = append(kh.entries, knownHost{addr: addr, key: key, line: n})
	}
	return kh, nil
}

// lookup returns the key recorded for addr and its line number.
func (kh *knownHosts) lookup(addr string) (crypto.PublicKey, int, bool) {
	addr, err := normalizeAddr(addr)
	if err != nil {
		return crypto.PublicKey{}, 0, false
	}
	for _, e := range kh.entries {
		if e.addr == addr {
			return e.key, e.line, true
		}
	}
	return crypto.PublicKey{}, 0, false
}

// add appends addr's key to the file, creating it (0600, directory 0700).
func (kh *knownHosts) add(addr string, key crypto.PublicKey) error {
	addr, err := normalizeAddr(addr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kh.path), 0o700); err != nil {
		return fmt.Errorf("recording known host: %w", err)
	}
	f, err := os.OpenFile(kh.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording known host: %w", err)
	}
	line := addr + " " + key.String() + "\n"
	// A file whose last line lacks a newline would glue ours onto it.
	if info, err := f.Stat(); err == nil && info.Size() > 0 {
		if last := lastByte(kh.path); last != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("recording known host: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording known host: %w", err)
	}
	kh.entries = append(kh.entries, knownHost{addr: addr, key: key})
	return nil
}

func lastByte(path string) byte {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return 0
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], info.Size()-1); err != nil {
		return 0
	}
	return b[0]
}

// normalizeAddr puts HOST:PORT in one canonical form (lower-case host,
// brackets only around IPv6 literals) so that lookups match however the
// address was typed.
func normalizeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %v", addr, err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("address %q: want HOST:PORT", addr)
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}
