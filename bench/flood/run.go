package flood

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// Run measures each of plan's rows in turn, Baseline first, and returns
// the report. A row that fails says why in its Err and the others still
// run; Run stops early when ctx ends.
func Run(ctx context.Context, plan Plan) *Report {
	rep := &Report{Plan: plan, Date: time.Now()}
	attacks := plan.Attacks
	if len(attacks) == 0 || attacks[0] != Baseline {
		attacks = append([]Attack{Baseline}, withoutBaseline(attacks)...)
	}
	rep.Plan.Attacks = attacks

	pin := &pinning{serverCPU: -1, clientCPU: plan.ClientCPU}
	pinned := "nothing pinned (fewer than 2 CPUs)"
	if runtime.NumCPU() >= 2 {
		if err := pin.pin(); err != nil {
			pinned = fmt.Sprintf("nothing pinned (%v)", err)
		} else {
			defer pin.unpin()
			pin.serverCPU = plan.ServerCPU
			pinned = fmt.Sprintf("server pinned to CPU %d, attackers and clients to CPU %d (GOMAXPROCS 1 each; the attacks' messages are crafted before the server starts, on both)", plan.ServerCPU, plan.ClientCPU)
		}
	}
	rep.Machine = fmt.Sprintf("%s %s/%s, %d CPUs; %s; load average before: %s.",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), pinned, loadAverage())

	serverKey, err := crypto.GenerateKey()
	if err != nil {
		rep.Rows = append(rep.Rows, Row{Attack: Baseline, Err: err.Error()})
		return rep
	}
	legitKey, err := crypto.GenerateKey()
	if err != nil {
		rep.Rows = append(rep.Rows, Row{Attack: Baseline, Err: err.Error()})
		return rep
	}
	all := specs()
	for _, a := range attacks {
		if ctx.Err() != nil {
			break
		}
		plan.progress("%s: starting", a)
		row := runRow(ctx, &rep.Plan, all[a], serverKey, legitKey, pin)
		plan.progress("%s: %s", a, rowSummary(row))
		rep.Rows = append(rep.Rows, row)
	}
	return rep
}

// pinning keeps this process on the client CPU, and the server's CPU
// for startServer (-1: none).
type pinning struct {
	serverCPU, clientCPU int
	restore              func() // nil while unpinned
}

// pin pins every thread to the client CPU and tells the runtime it has
// one processor.
func (p *pinning) pin() error {
	restore, err := pinProcess(p.clientCPU)
	if err != nil {
		return err
	}
	p.restore = restore
	runtime.GOMAXPROCS(1)
	return nil
}

// unpin gives the threads back the affinity they had.
func (p *pinning) unpin() {
	if p.restore != nil {
		p.restore()
		p.restore = nil
		runtime.SetDefaultGOMAXPROCS()
	}
}

// unpinned runs f on every CPU, if pinned, and pins again after.
func (p *pinning) unpinned(f func()) {
	if p.restore == nil {
		f()
		return
	}
	p.unpin()
	defer p.pin()
	f()
}

func withoutBaseline(attacks []Attack) []Attack {
	var out []Attack
	for _, a := range attacks {
		if a != Baseline {
			out = append(out, a)
		}
	}
	return out
}

// runRow measures one attack on a server of its own.
func runRow(ctx context.Context, plan *Plan, spec attackSpec, serverKey, legitKey crypto.PrivateKey, pin *pinning) Row {
	row := Row{Attack: spec.name, Measured: !spec.check, GoodputMbps: -1, ServerCPU: -1}
	env := &attackEnv{
		plan:      plan,
		serverKey: serverKey,
		serverPub: serverKey.Public(),
		legitKey:  legitKey,
	}
	cfg := serverConfig{Key: serverKey}
	if spec.server != nil {
		spec.server(&cfg, env)
	}
	if d := cfg.describe(); d != "" {
		row.Notes = append(row.Notes, d)
	}
	if spec.prepare != nil {
		var err error
		pin.unpinned(func() { err = spec.prepare(ctx, env) })
		if err != nil {
			row.Err = err.Error()
			return row
		}
	}
	srv, err := startServer(cfg, pin.serverCPU)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer func() {
		if err := srv.stop(); err != nil {
			row.Notes = append(row.Notes, "stopping the server: "+err.Error())
		}
	}()
	env.addr, env.addrB = srv.addr, srv.addrB

	var legit *legitClients
	if !spec.check {
		legit, err = dialLegit(ctx, srv.addr.String(), transport.Config{
			ServerKey: env.serverPub, PrivateKey: legitKey, HandshakeTimeout: plan.DialTimeout,
		})
		if err != nil {
			row.Err = err.Error()
			return row
		}
		defer legit.close()
		env.clientConn = 2
	}

	actx, stopAttack := context.WithCancel(ctx)
	defer stopAttack()
	readyCh := make(chan struct{})
	var readyOnce sync.Once
	ready := func() { readyOnce.Do(func() { close(readyCh) }) }
	results := make(chan attackResult, 1)
	go func() { results <- spec.run(actx, env, ready) }()
	var (
		res      attackResult
		finished bool
	)
	select {
	case <-readyCh:
	case res = <-results:
		finished = true
	case <-time.After(plan.SetupTimeout):
		stopAttack()
		res, finished = <-results, true
		res.err = cmpErr(res.err, fmt.Errorf("the attack's set-up took more than %v", plan.SetupTimeout))
	case <-ctx.Done():
		stopAttack()
		res, finished = <-results, true
	}
	if finished && res.err == nil && !spec.check {
		res.err = errors.New("the attack ended before it was ready")
	}

	if !finished {
		// A check runs to its end; a flood runs until the measurements
		// are done.
		if !spec.check {
			measure(ctx, plan, srv, legit, &row)
			stopAttack()
		}
		res = <-results
	}
	fillAttack(&row, plan, spec, res)
	if st, err := srv.stats(); err == nil {
		row.ServerHeap = st.PeakHeap
		row.Notes = append(row.Notes, serverCounters(st)...)
	} else {
		note := "server stats: " + err.Error()
		if tail := srv.stderr.String(); tail != "" {
			note += "; its stderr: " + tail
		}
		row.Notes = append(row.Notes, note)
	}
	if p, err := srv.proc(); err == nil {
		row.ServerRSS = p.hwm
	}
	return row
}

// measure runs the legitimate clients against the attacked server: Dials
// and echoes, then the bulk transfer.
func measure(ctx context.Context, plan *Plan, srv *serverProc, legit *legitClients, row *Row) {
	sleepUntil(ctx, time.Now().Add(plan.Warmup))
	window := plan.Duration * 2 / 3
	start := time.Now()
	end := start.Add(window)
	server0, serr := srv.proc()
	self0, cerr := readProc(os.Getpid())
	dials, waitDials := legit.dialers(ctx, plan.Dialers, end, plan.DialInterval)
	echo := legit.measureEcho(ctx, end, plan.EchoInterval)
	sleepUntil(ctx, end)
	elapsed := time.Since(start)
	server1, serr1 := srv.proc()
	self1, cerr1 := readProc(os.Getpid())
	if serr == nil && serr1 == nil {
		row.ServerCPU = 100 * float64(server1.cpu-server0.cpu) / float64(elapsed)
	}

	mbps, err := legit.measureBulk(ctx, plan.Duration-window)
	row.GoodputMbps = mbps
	if err != nil {
		row.Notes = append(row.Notes, "bulk: "+err.Error())
	}
	// Dials started in the window may still be running.
	waitDials()

	row.Echo, row.EchoFailed = summarize(echo.samples), echo.failed
	dials.mu.Lock()
	row.Dial = summarize(dials.samples)
	row.DialAttempts, row.DialFailed = dials.attempts, dials.failed
	firstErr, errAfter := dials.firstErr, dials.errAfter
	dials.mu.Unlock()
	if cerr == nil && cerr1 == nil {
		row.Notes = append(row.Notes, fmt.Sprintf("attackers+clients CPU %.0f%%", 100*float64(self1.cpu-self0.cpu)/float64(elapsed)))
	}
	if firstErr != nil {
		row.Notes = append(row.Notes, fmt.Sprintf("first failed Dial after %s: %q", formatDuration(errAfter), firstErr.Error()))
	}
	if echo.failed > 0 {
		row.Notes = append(row.Notes, fmt.Sprintf("%d echoes failed (first: %v)", echo.failed, echo.firstErr))
	}
}

// fillAttack puts what the attack reported into row.
func fillAttack(row *Row, plan *Plan, spec attackSpec, res attackResult) {
	if res.err != nil && row.Err == "" {
		row.Err = res.err.Error()
	}
	switch {
	case res.offered != "":
		row.Offered = res.offered
	case res.sent > 0 && res.active > 0:
		rate := float64(res.sent) / res.active.Seconds()
		row.Offered = formatRate(rate, res.unit)
		if target, ok := plan.Rates[spec.name]; ok && rate < 0.95*target {
			row.Target = formatRate(target, res.unit)
		}
	}
	row.Notes = append(row.Notes, res.notes...)
}

// serverCounters describes the server's non-zero EndpointStats counters.
func serverCounters(st serverStats) []string {
	e := st.Endpoint
	var parts []string
	for _, c := range []struct {
		name string
		n    uint64
	}{
		{"handshakes rejected", e.HandshakesRejected},
		{"shed (queue full)", e.HandshakesShed},
		{"refused (full)", e.Refused},
		{"tokens rejected", e.TokensRejected},
		{"bad Initials", e.BadInitials},
		{"Retries", e.RetriesSent},
		{"stateless resets", e.StatelessResetsSent},
		{"socket drops", e.SocketReceiveDrops},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", formatCount(float64(c.n)), c.name))
		}
	}
	out := []string{fmt.Sprintf("server accepted %s conns", formatCount(float64(st.Accepted)))}
	if len(parts) > 0 {
		out[0] += ", " + strings.Join(parts, ", ")
	}
	return out
}

// rowSummary is the progress line after a row.
func rowSummary(r Row) string {
	if r.Err != "" {
		return "error: " + r.Err
	}
	if !r.Measured {
		return strings.Join(r.Notes, "; ")
	}
	return fmt.Sprintf("offered %s, Dial %s (%d/%d failed), echo %s, bulk %s Mbit/s, server CPU %s, RSS/heap %s",
		offeredCell(r), latencyCell(r.Dial), r.DialFailed, r.DialAttempts, latencyCell(r.Echo), goodputCell(r.GoodputMbps), cpuCell(r.ServerCPU), memoryCell(r))
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
