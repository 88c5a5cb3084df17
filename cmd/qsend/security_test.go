package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/session"
)

// dialCrafted connects to a receiver as a hand-written sender that speaks
// the wire protocol directly, so it can send what qsend never would.
func dialCrafted(t *testing.T, addr, key string) *session.Session {
	t.Helper()
	pub, err := crypto.ParsePublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := session.Dial(ctx, addr, &transport.Config{ServerKey: pub, PrivateKey: priv}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// sendCraftedManifest sends entries as a manifest and returns the reply.
func sendCraftedManifest(t *testing.T, conn *session.Session, entries []wire.Entry) (*session.Stream, wire.ManifestReply) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctrl, err := conn.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := wire.Manifest{Entries: entries}
	if _, err := ctrl.Write(wire.AppendFrame(nil, wire.FrameManifest, m.Append(nil))); err != nil {
		t.Fatal(err)
	}
	ctrl.SetReadDeadline(time.Now().Add(10 * time.Second))
	body, err := wire.ReadFrame(ctrl, wire.FrameManifestReply, wire.MaxManifestReplyLen)
	if err != nil {
		t.Fatalf("reading the manifest reply: %v", err)
	}
	reply, err := wire.ParseManifestReply(body)
	if err != nil {
		t.Fatal(err)
	}
	return ctrl, reply
}

// snapshotNames lists every path under dir (following nothing).
func snapshotNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			names = append(names, p+" "+info.Mode().String())
		}
		return nil
	})
	return names
}

// TestPathTraversalRefused plays a malicious sender. Every manifest that
// names a path outside the receiving directory is refused with a clear
// message, and nothing is written outside it.
func TestPathTraversalRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "recv")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A symbolic link inside DIR that leads out of it: os.Root must refuse
	// to follow it.
	if err := os.Symlink("../outside", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "abslink")); err != nil {
		t.Fatal(err)
	}
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir)
	before := snapshotNames(t, parent)

	file := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Mode: 0o644, Size: 5} }
	dirEntry := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir, Mode: 0o755} }
	tests := []struct {
		desc    string
		entries []wire.Entry
		want    string
	}{
		{desc: "parent", entries: []wire.Entry{file("../evil")}, want: `unsafe path "../evil"`},
		{desc: "absolute", entries: []wire.Entry{file("/tmp/qsend-evil")}, want: `unsafe path "/tmp/qsend-evil": absolute`},
		{desc: "parent in the middle", entries: []wire.Entry{file("a/../../b")}, want: `unsafe path "a/../../b"`},
		{desc: "backslashes", entries: []wire.Entry{file(`..\..\evil`)}, want: "backslash"},
		{desc: "state directory", entries: []wire.Entry{file(".qsend/x.part")}, want: "state directory"},
		{desc: "directory then escape", entries: []wire.Entry{dirEntry("x"), file("x/../../y")}, want: "unsafe path"},
		{desc: "NUL", entries: []wire.Entry{file("a\x00b")}, want: "control character"},
		{desc: "file through a symbolic link out", entries: []wire.Entry{file("link/evil.txt")}, want: "cannot create directory link"},
		{desc: "directory through a symbolic link out", entries: []wire.Entry{dirEntry("link/sub")}, want: "cannot create directory link/sub"},
		{desc: "absolute symbolic link", entries: []wire.Entry{file("abslink/evil.txt")}, want: "cannot create directory abslink"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			conn := dialCrafted(t, recv.addr, recv.key)
			_, reply := sendCraftedManifest(t, conn, tt.entries)
			if reply.Status != wire.StatusAbort || !strings.Contains(reply.Message, tt.want) {
				t.Fatalf("got reply %v %q, want abort with %q", reply.Status, reply.Message, tt.want)
			}
			// The receiver closes the connection with the same reason.
			select {
			case <-conn.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the receiver did not close the connection")
			}
			var ce *session.ClosedError
			if !errors.As(conn.Err(), &ce) || !ce.Remote || !strings.Contains(ce.Reason, tt.want) {
				t.Fatalf("got connection error %v, want an application close with %q", conn.Err(), tt.want)
			}
		})
	}

	// A valid manifest followed by a file stream naming an entry that does
	// not exist is a protocol error.
	t.Run("file header for no entry", func(t *testing.T) {
		conn := dialCrafted(t, recv.addr, recv.key)
		_, reply := sendCraftedManifest(t, conn, []wire.Entry{file("ok.txt")})
		if reply.Status != wire.StatusOK || !reflect.DeepEqual(reply.Offsets, []int64{0}) {
			t.Fatalf("got reply %+v, want OK with one offset 0", reply)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := conn.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hdr := wire.FileHeader{Index: 7}
		st.Write(wire.AppendFrame(nil, wire.FrameFileHeader, hdr.Append(nil)))
		select {
		case <-conn.Done():
		case <-ctx.Done():
			t.Fatal("the receiver did not close the connection")
		}
		var ce *session.ClosedError
		if !errors.As(conn.Err(), &ce) || !strings.Contains(ce.Reason, "protocol error: file header names entry 7") {
			t.Fatalf("got %v, want a protocol error about entry 7", conn.Err())
		}
	})

	// recv created DIR/.qsend before the first listing; nothing may have
	// appeared since, inside DIR or around it.
	if after := snapshotNames(t, parent); !reflect.DeepEqual(after, before) {
		t.Fatalf("the tree around DIR changed:\nbefore %q\nafter  %q", before, after)
	}
	if _, err := os.Lstat("/tmp/qsend-evil"); !os.IsNotExist(err) {
		t.Fatalf("/tmp/qsend-evil: got %v, want it not to exist", err)
	}
	if got := listDir(t, outside); len(got) != 0 {
		t.Fatalf("outside directory got %q, want it empty", got)
	}
}

// TestWrongPin pins a key the receiver does not have: the sender refuses at
// once with a clear message and exit status 1.
func TestWrongPin(t *testing.T) {
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", t.TempDir())
	_, otherKey := keygen(t)
	src := filepath.Join(t.TempDir(), "f")
	writeRandomFile(t, src, 1000, 1)
	res := newSender(t).run(t, time.Minute, "--pin", otherKey, src, recv.addr)
	want := "qsend: the receiver at " + recv.addr + " has key " + recv.key + ", not the pinned key " + otherKey + " (wrong --pin?)"
	if last := lastLine(res.stderr); res.code != 1 || last != want {
		t.Fatalf("got exit %d, last line of stderr %q; want 1, %q", res.code, last, want)
	}
}

// TestHandshakeMustProveTheKey answers key probes from a fake receiver that
// cannot complete the handshake (as an impostor could not): the sender
// gives up after --timeout with a clear message.
func TestHandshakeMustProveTheKey(t *testing.T) {
	_, pub := keygen(t)
	key, err := crypto.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := fake.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n == 64 && bytes.HasPrefix(buf, []byte("\x00qsend key?")) {
				answer := append([]byte("\x00qsend key="), buf[11:27]...)
				fake.WriteToUDP(append(answer, key[:]...), from)
			}
		}
	}()
	src := filepath.Join(t.TempDir(), "f")
	writeRandomFile(t, src, 1000, 1)
	res := newSender(t).run(t, time.Minute, "--timeout", "1s", "--pin", pub, src, fake.LocalAddr().String())
	want := "did not prove it holds key " + pub
	if res.code != 1 || !strings.Contains(res.stderr, want) {
		t.Fatalf("got exit %d, stderr %q; want 1 and %q", res.code, res.stderr, want)
	}
}

// TestTrustOnFirstUse: the first send records the receiver's key; a
// different receiver on the same address is then refused like ssh refuses
// a changed host key, and --pin overrides the record.
func TestTrustOnFirstUse(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	writeRandomFile(t, src, 1000, 1)
	s := newSender(t)

	first := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", t.TempDir())
	res := s.run(t, time.Minute, src, first.addr)
	if res.code != 0 || !strings.Contains(res.stderr, "first connection to "+first.addr) {
		t.Fatalf("first send: got exit %d, stderr %q", res.code, res.stderr)
	}
	knownHosts := filepath.Join(s.home, ".config", "qsend", "known_hosts")
	data, err := os.ReadFile(knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if want := first.addr + " " + first.key + "\n"; string(data) != want {
		t.Fatalf("known_hosts is %q, want %q", data, want)
	}
	res = s.run(t, time.Minute, src, first.addr)
	if res.code != 0 || strings.Contains(res.stderr, "first connection") {
		t.Fatalf("second send to the same receiver: got exit %d, stderr %q", res.code, res.stderr)
	}
	first.kill()

	dir := t.TempDir()
	second := startRecv(t, nil, "--listen", first.addr, "--dir", dir)
	res = s.run(t, time.Minute, src, first.addr)
	for _, want := range []string{
		"WARNING: the key of the receiver at " + first.addr + " has changed!",
		"known key:   " + first.key,
		"offered key: " + second.key,
		"Refusing to send",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr %q lacks %q", res.stderr, want)
		}
	}
	if res.code != 1 {
		t.Errorf("got exit %d, want 1", res.code)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{".qsend"}) {
		t.Errorf("the receiver got %q, want nothing", got)
	}
	res = s.run(t, time.Minute, "--pin", second.key, src, first.addr)
	if res.code != 0 {
		t.Fatalf("send with --pin of the new key: got exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestAllowList: a receiver with --allow admits only the listed senders.
func TestAllowList(t *testing.T) {
	allowedKeyFile, allowedPub := keygen(t)
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", t.TempDir(), "--allow", allowedPub)
	src := filepath.Join(t.TempDir(), "f")
	writeRandomFile(t, src, 1000, 1)

	res := newSender(t).run(t, time.Minute, "--pin", recv.key, src, recv.addr)
	if res.code != 1 || !strings.Contains(res.stderr, "does not accept this sender's key") {
		t.Fatalf("unlisted sender: got exit %d, stderr %q", res.code, res.stderr)
	}
	res = newSender(t).run(t, time.Minute, "--pin", recv.key, "--key", allowedKeyFile, src, recv.addr)
	if res.code != 0 {
		t.Fatalf("listed sender: got exit %d, stderr %q", res.code, res.stderr)
	}
	if !strings.Contains(recv.stderr.String(), "session from "+allowedPub) {
		t.Fatalf("receiver stderr %q does not name the allowed sender", recv.stderr.String())
	}
}

// TestReceiverVerifiesHash plays a sender whose data does not match the
// hash it claims, and one whose stream ends early: the receiver answers
// that the file failed, and nothing appears under the file's name.
func TestReceiverVerifiesHash(t *testing.T) {
	dir := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir)
	data := []byte("hello")
	tests := []struct {
		desc    string
		payload []byte // written after the header; FIN follows
		want    string
	}{
		{
			desc:    "wrong hash",
			payload: append(append([]byte{}, data...), wire.AppendFrame(nil, wire.FrameTrailer, (&wire.Trailer{Hash: [wire.HashLen]byte{1}}).Append(nil))...),
			want:    "f.txt: hash mismatch",
		},
		{
			// Protocol version 1's hash: a receiver of version 2 checks BLAKE3.
			desc:    "SHA-256 hash",
			payload: append(append([]byte{}, data...), wire.AppendFrame(nil, wire.FrameTrailer, (&wire.Trailer{Hash: [wire.HashLen]byte(sha256Of(data))}).Append(nil))...),
			want:    "f.txt: hash mismatch",
		},
		{desc: "stream ends early", payload: data[:3], want: "f.txt: the sender's stream ended 2 bytes early"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			conn := dialCrafted(t, recv.addr, recv.key)
			_, reply := sendCraftedManifest(t, conn, []wire.Entry{{Path: "f.txt", Kind: wire.KindFile, Mode: 0o644, Size: int64(len(data))}})
			if reply.Status != wire.StatusOK {
				t.Fatalf("manifest refused: %q", reply.Message)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := conn.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hdr := wire.FileHeader{Index: 0, PrefixHash: [wire.HashLen]byte(wire.NewHash().Sum(nil))}
			st.Write(append(wire.AppendFrame(nil, wire.FrameFileHeader, hdr.Append(nil)), tt.payload...))
			st.CloseWrite()
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			body, err := wire.ReadFrame(st, wire.FrameResult, wire.MaxResultLen)
			if err != nil {
				t.Fatal(err)
			}
			res, err := wire.ParseResult(body)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != wire.StatusFailed || !strings.HasPrefix(res.Message, tt.want) {
				t.Fatalf("got %v %q, want failed with %q", res.Status, res.Message, tt.want)
			}
			if _, err := os.Lstat(filepath.Join(dir, "f.txt")); !os.IsNotExist(err) {
				t.Fatalf("f.txt: got %v, want it absent", err)
			}
		})
	}
}

func sha256Of(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
