package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestExactlyOnce: 10,000 requests or more, each on a stream of its own
// and answered by the server application, while the connection is killed
// 100 times at seeded random moments: closed by the client, closed by the
// server, or cut off by a blackout past the idle timeout. Every request is
// processed exactly once and every reply received exactly once, byte for
// byte. Requests go on until all 100 kills are done: how many fit between
// kills depends on the machine's scheduling, not on the fake clock.
func TestExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			requests = 10_000
			workers  = 8
			kills    = 100
			reqSize  = 200
		)
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		ctx := context.Background()

		var mu sync.Mutex
		processed := make(map[uint64]int)
		srvErrs := make(chan error, 1)
		go func() {
			for {
				s, err := srv.AcceptStream(ctx)
				if err != nil {
					return
				}
				go func() {
					req, err := io.ReadAll(s)
					if err != nil || len(req) != 8+reqSize {
						select {
						case srvErrs <- fmt.Errorf("server read %d bytes, %v", len(req), err):
						default:
						}
						return
					}
					id := binary.BigEndian.Uint64(req)
					mu.Lock()
					processed[id]++
					mu.Unlock()
					s.Write(reply(id, req))
					s.CloseWrite()
				}()
			}
		}()

		// The killer.
		stop := make(chan struct{})
		killed := make(chan int)
		allKilled := make(chan struct{})
		go func() {
			r := rand.New(rand.NewPCG(42, 42))
			n := 0
			defer func() { killed <- n }()
			defer close(allKilled)
			for n < kills {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(r.IntN(150)) * time.Millisecond):
				}
				srv.mu.Lock()
				sconn := srv.conn
				srv.mu.Unlock()
				cli.mu.Lock()
				cconn := cli.conn
				cli.mu.Unlock()
				if sconn == nil || cconn == nil || sconn.RemoteAddr().String() != cconn.LocalAddr().String() ||
					cli.Stats().ConnectionLosses != n {
					continue // the last kill is still being noticed, or the session resumed
				}
				switch n % 10 {
				case 9:
					l.blackout(true)
					time.Sleep(70 * time.Second)
					l.blackout(false)
				case 0, 2, 4, 6:
					cconn.CloseWithError(0x99, "killed by the client")
				default:
					sconn.CloseWithError(0x99, "killed by the server")
				}
				n++
			}
		}()

		replies := make(map[uint64]int)
		unused := make(map[uint64]bool) // ids taken once the work was done
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		next := uint64(0)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					id := next
					next++
					done := false
					if id >= requests {
						select {
						case <-allKilled:
							done = true
						default:
							// A killer that cannot get on ends the work
							// too; the count of kills below tells.
							done = id >= 10*requests
						}
						unused[id] = done
					}
					mu.Unlock()
					if done {
						return
					}
					req := make([]byte, 8, 8+reqSize)
					binary.BigEndian.PutUint64(req, id)
					req = append(req, randomData(id, reqSize)...)
					s, err := cli.OpenStream(ctx)
					if err != nil {
						errs <- err
						return
					}
					s.Write(req)
					s.CloseWrite()
					got, err := io.ReadAll(s)
					if err != nil {
						errs <- fmt.Errorf("request %d: %w", id, err)
						return
					}
					if !bytes.Equal(got, reply(id, req)) {
						errs <- fmt.Errorf("request %d: wrong reply (%d bytes)", id, len(got))
						return
					}
					mu.Lock()
					replies[id]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(stop)
		n := <-killed
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		select {
		case err := <-srvErrs:
			t.Fatal(err)
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		if next < requests {
			t.Fatalf("%d requests, want at least %d", next, requests)
		}
		for id := uint64(0); id < next; id++ {
			if unused[id] {
				continue
			}
			if processed[id] != 1 || replies[id] != 1 {
				t.Fatalf("request %d processed %d times, its reply received %d times", id, processed[id], replies[id])
			}
		}
		// Every stream finishes on both ends once the last receipts
		// have crossed.
		time.Sleep(time.Second)
		cs, ss := cli.Stats(), srv.Stats()
		if cs.Streams != 0 || ss.Streams != 0 || cs.Buffered != 0 || ss.Buffered != 0 {
			t.Errorf("streams left: client %d, server %d; bytes buffered: client %d, server %d", cs.Streams, ss.Streams, cs.Buffered, ss.Buffered)
		}
		t.Logf("%d kills; client %+v; server %+v", n, cs, ss)
		if n != kills {
			t.Errorf("the connection was killed %d times, want %d", n, kills)
		}
		if cs.Resumptions < n {
			t.Errorf("%d resumptions for %d kills", cs.Resumptions, n)
		}
		cli.Close()
		<-srv.Done()
	})
}

// reply is the server's answer to request id.
func reply(id uint64, req []byte) []byte {
	out := binary.BigEndian.AppendUint64(nil, id)
	out = append(out, "done:"...)
	return append(out, bytes.ToUpper(req[8:40])...)
}
