package qsend

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/transport"
	sess "github.com/limpetnet/limpet/transport/session"
)

// Exit statuses, documented in the help text.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitInterrupted = 3 // the connection was lost; re-running resumes
)

// Application error codes in CONNECTION_CLOSE and stream resets. The
// reason string carries the human message; the code lets the sender pick
// the exit status.
const (
	codeDone       transport.ApplicationErrorCode = 0
	codeProtocol   transport.ApplicationErrorCode = 1 // malformed or unexpected message
	codeRefused    transport.ApplicationErrorCode = 2 // manifest refused
	codeAbort      transport.ApplicationErrorCode = 3 // receiver cannot continue (disk full, …)
	codeSuperseded transport.ApplicationErrorCode = 4 // the same sender started a new session
	codeShutdown   transport.ApplicationErrorCode = 5 // the receiver is stopping
	codeCanceled   transport.ApplicationErrorCode = 6 // the sender stopped (signal) or gave up a stream
	codeBusy       transport.ApplicationErrorCode = 7 // too many sessions at once
	codeStop       transport.ApplicationErrorCode = 8 // STOP_SENDING: the receiver has answered this file
)

// exitError carries an exit status and a message that is printed as is,
// prefixed with "qsend: ".
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func failf(format string, args ...any) error {
	return &exitError{code: ExitError, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error from a command to its exit status.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return ExitError
	}
	return ExitOK
}

// describeConnError turns why a connection ended into a phrase for a person,
// and says whether re-running may resume (the peer did not refuse us).
func describeConnError(err error) (msg string, resumable bool) {
	var ae *transport.ApplicationError
	var te *transport.TransportError
	var ce *sess.ClosedError
	var re *sess.RefusedError
	switch {
	case errors.As(err, &ce) && ce.Remote:
		return receiverClosed(ce.Code, ce.Reason)
	case errors.As(err, &re) && re.Code == sess.RefusedUnknown:
		return "the receiver no longer holds this transfer's session (it restarted, or the outage outlasted its --outage)", true
	case errors.Is(err, sess.ErrExpired):
		return "the path stayed down for longer than --outage", true
	case errors.Is(err, transport.ErrIdleTimeout):
		return "the network was silent for longer than the idle timeout", true
	case errors.Is(err, transport.ErrStatelessReset):
		return "the receiver restarted and no longer knows this connection", true
	case errors.As(err, &ae) && ae.Remote:
		return receiverClosed(ae.Code, ae.Reason)
	case errors.As(err, &ae):
		return ae.Error(), false
	case errors.As(err, &te) && te.Code == transport.UnknownClientKey:
		return "the receiver does not accept this sender's key (it is not in the receiver's --allow list)", false
	case errors.As(err, &te):
		return te.Error(), te.Remote
	}
	return err.Error(), true
}

// receiverClosed describes the receiver closing the session or
// connection with code and reason; only a superseded session or a
// receiver shutting down leaves the transfer resumable.
func receiverClosed(code transport.ApplicationErrorCode, reason string) (msg string, resumable bool) {
	reason = wire.Printable(reason)
	if reason == "" {
		reason = fmt.Sprintf("code %d", code)
	}
	return "receiver: " + reason, code == codeSuperseded || code == codeShutdown
}

// diskErrorMessage words a receiver's write error the way df and cp do, and
// says whether it dooms the whole session (a full device will not take the
// next file either).
func diskErrorMessage(err error) (msg string, fatal bool) {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "no space left on device", true
	case errors.Is(err, syscall.EDQUOT):
		return "disk quota exceeded", true
	case errors.Is(err, syscall.EROFS):
		return "read-only file system", true
	case errors.Is(err, fs.ErrPermission):
		return "permission denied", false
	case errors.Is(err, syscall.EISDIR):
		return "is a directory", false
	case errors.Is(err, syscall.ENOTDIR):
		return "not a directory", false
	}
	// Leave out the path in *fs.PathError and *os.LinkError: it is the
	// receiver's (.qsend/…), not one the sender knows.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error(), false
	}
	return err.Error(), false
}
