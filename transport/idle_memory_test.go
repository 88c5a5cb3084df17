package transport

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/limpetnet/limpet/crypto"
)

// idleFleetEnv makes the test binary a fleet of idle clients for
// BenchmarkServerIdleMemory: "ADDR KEY COUNT" (the server's address, its
// public key in base64, how many connections to hold).
const idleFleetEnv = "LIMPET_TEST_IDLE_FLEET"

func TestMain(m *testing.M) {
	if spec := os.Getenv(idleFleetEnv); spec != "" {
		os.Exit(runIdleFleet(spec))
	}
	os.Exit(m.Run())
}

// runIdleFleet dials COUNT connections from one Endpoint, echoes a message
// on each, says "ready", and holds them until its standard input closes.
func runIdleFleet(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 3 {
		fmt.Println("error: bad fleet spec", spec)
		return 2
	}
	raw, err := base64.StdEncoding.DecodeString(f[1])
	count, err2 := strconv.Atoi(f[2])
	if err != nil || err2 != nil || len(raw) != crypto.KeyLen {
		fmt.Println("error: bad fleet spec", spec)
		return 2
	}
	var server crypto.PublicKey
	copy(server[:], raw)
	ep, err := NewEndpoint("127.0.0.1:0", nil)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer ep.Close()
	ctx := context.Background()
	conns := make([]*Conn, 0, count)
	for range count {
		c, err := ep.Dial(ctx, f[0], &Config{ServerKey: server})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		if err := echoOnStream(ctx, c, []byte("hello")); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready", len(conns))
	bufio.NewReader(os.Stdin).ReadString('\n') // until the benchmark closes it
	return 0
}

// BenchmarkServerIdleMemory is what idle connections cost a server: b.N
// connections from a client fleet in another process, each having echoed
// one message, then idle; the server's resident memory and Go heap before
// and after, per connection. The echo server keeps a goroutine per
// connection, as an application would. Issue 18 wants under 30 KiB of RSS
// per connection at 10,000:
//
//	go test ./transport -run '^$' -bench ServerIdleMemory -benchtime 10000x
func BenchmarkServerIdleMemory(b *testing.B) {
	key, ln := echoListener(b)
	debug.FreeOSMemory()
	rss0, heap0 := residentBytes(b), heapBytes()
	pub := key.Public()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", idleFleetEnv, ln.Addr(), base64.StdEncoding.EncodeToString(pub[:]), b.N))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if want := fmt.Sprintf("ready %d", b.N); strings.TrimSpace(line) != want {
		b.Fatalf("client fleet said %q, want %q", strings.TrimSpace(line), want)
	}
	b.StopTimer()
	debug.FreeOSMemory()
	rss1, heap1 := residentBytes(b), heapBytes()
	b.ReportMetric(float64(rss1-rss0)/float64(b.N), "server-RSS-B/conn")
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "server-heap-B/conn")
}
