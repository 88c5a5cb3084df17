package netlab

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// errFuncExited is reported when the function given to In ends its goroutine
// with runtime.Goexit (for example through t.FailNow) instead of returning.
var errFuncExited = errors.New("netlab: function run in namespace called runtime.Goexit")

// In runs fn on an OS thread that has joined side's network namespace, and
// returns fn's error. Sockets that fn creates belong to that namespace for
// their whole life and may be used from any goroutine once In returns.
//
// fn runs on a goroutine of its own, locked to its thread, so it must not
// call t.FailNow or t.Fatal; return an error instead. A panic in fn is
// re-raised in the caller. If the thread cannot be switched back, it is
// left locked so that the Go runtime destroys it rather than reusing a
// thread in the wrong namespace.
func (l *Lab) In(side Side, fn func() error) error {
	if !side.valid() {
		return fmt.Errorf("netlab: In: invalid side %v", side)
	}
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		res := result{err: errFuncExited}
		defer func() { done <- res }()

		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			res.err = fmt.Errorf("netlab: open own network namespace: %w", err)
			return
		}
		defer unix.Close(home)
		if err := l.enter(side); err != nil {
			// Setns failed, so the thread is still at home.
			runtime.UnlockOSThread()
			res.err = err
			return
		}
		defer func() {
			if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
				// Stay locked: the runtime discards a thread whose
				// goroutine exits while locked.
				res.err = errors.Join(res.err, fmt.Errorf("netlab: return from %v namespace: %w", side, err))
				return
			}
			runtime.UnlockOSThread()
		}()
		defer func() {
			if v := recover(); v != nil {
				res.panicked, res.value = true, v
			}
		}()
		res.err = fn()
	}()
	res := <-done
	if res.panicked {
		panic(res.value)
	}
	return res.err
}

// InClient runs fn inside the client namespace; see In.
func (l *Lab) InClient(fn func() error) error { return l.In(Client, fn) }

// InRouter runs fn inside the router namespace; see In.
func (l *Lab) InRouter(fn func() error) error { return l.In(Router, fn) }

// InServer runs fn inside the server namespace; see In.
func (l *Lab) InServer(fn func() error) error { return l.In(Server, fn) }

// enter moves the calling, locked thread into side's namespace. It holds
// the lab's lock across Setns so that Close cannot close the namespace
// descriptor in between, when its number could already name another file.
func (l *Lab) enter(side Side) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	fd := l.nsFDs[side]
	if fd < 0 {
		return fmt.Errorf("netlab: %v namespace not open", side)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("netlab: enter %v namespace %s: %w", side, l.names[side], err)
	}
	return nil
}
