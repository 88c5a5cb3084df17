package qsend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// defaultPort is the port of --listen's default and of a HOST given
// without one.
const defaultPort = "4433"

// Main runs qsend with args (without the program name) and returns the exit
// status. Errors are printed on stderr, one "qsend: " line each.
func Main(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		io.WriteString(stderr, mainHelp)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "-h", "-help", "--help", "help":
		if cmd == "help" && len(rest) > 0 {
			return Main(ctx, []string{rest[0], "--help"}, env, stdout, stderr)
		}
		io.WriteString(stdout, mainHelp)
		return ExitOK
	case "keygen":
		err = runKeygen(rest, env, stdout, stderr)
	case "recv":
		err = runRecv(ctx, rest, stdout, stderr)
	case "send":
		err = runSend(ctx, rest, env, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "qsend: unknown command %q\nRun 'qsend --help' for usage.\n", cmd)
		return ExitUsage
	}
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "qsend %s: %v\nRun 'qsend %s --help' for usage.\n", cmd, ue.err, cmd)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "qsend: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nqsend: "))
	return exitCode(err)
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// newFlagSet returns a flag set that reports errors as values and prints
// help (the command's own text, on stdout) for -h and --help.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses flags anywhere on the command line, as people type them
// ("qsend send file host:4433 --pin KEY"), until a "--".
func parseArgs(fs *flag.FlagSet, args []string, help string, stdout io.Writer) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				io.WriteString(stdout, help)
				return nil, err
			}
			return nil, &usageError{err: err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// keyListFlag collects --allow keys.
type keyListFlag []crypto.PublicKey

func (k *keyListFlag) String() string { return fmt.Sprint(len(*k), " keys") }

func (k *keyListFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		key, err := crypto.ParsePublicKey(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("key %q: want 44 characters of base64, as qsend keygen prints", s)
		}
		*k = append(*k, key)
	}
	return nil
}

// keyFlag is --pin.
type keyFlag struct{ key crypto.PublicKey }

func (k *keyFlag) String() string { return "" }

func (k *keyFlag) Set(v string) error {
	key, err := crypto.ParsePublicKey(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("key %q: want 44 characters of base64, as qsend recv prints", v)
	}
	k.key = key
	return nil
}

// sizeFlag is --rate.
// fecFlag is --fec auto|off|K+M.
type fecFlag struct{ cfg transport.FECConfig }

func (f *fecFlag) String() string { return "" }

func (f *fecFlag) Set(v string) error {
	switch v {
	case "auto":
		f.cfg = transport.FECConfig{}
	case "off":
		f.cfg = transport.FECConfig{Disable: true}
	default:
		k, m, ok := strings.Cut(v, "+")
		kn, kerr := strconv.Atoi(k)
		mn, merr := strconv.Atoi(m)
		cfg := transport.FECConfig{GroupSize: kn, Repair: mn}
		if !ok || kerr != nil || merr != nil || kn < 1 || kn > 32 || mn < 1 || mn > kn {
			return fmt.Errorf("%q: want auto, off, or K+M with 1 ≤ M ≤ K ≤ 32, such as 8+2", v)
		}
		f.cfg = cfg
	}
	return nil
}

type sizeFlag struct{ n int64 }

func (s *sizeFlag) String() string { return "" }

func (s *sizeFlag) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("%w %q: must be positive", ErrBadSize, v)
	}
	s.n = n
	return nil
}

func keygenFlags(out *string) *flag.FlagSet {
	fs := newFlagSet("keygen")
	fs.StringVar(out, "o", "", "")
	return fs
}

func runKeygen(args []string, env Env, stdout, stderr io.Writer) error {
	var out string
	pos, err := parseArgs(keygenFlags(&out), args, keygenHelp, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if out == "" {
		if out, err = env.defaultKeyPath(); err != nil {
			return failf("%v", err)
		}
	}
	k, err := writeNewKey(out)
	if err != nil {
		return failf("%v", err)
	}
	fmt.Fprintf(stderr, "qsend: wrote the private key to %s (mode 0600) and the public key to %s.pub\n", out, out)
	fmt.Fprintln(stdout, k.Public())
	return nil
}

type recvOptions struct {
	listen, dir, key, qlog            string
	once, json, quiet, verbose, stats bool
	allow                             keyListFlag
	outage, idleTimeout               time.Duration
}

func recvFlags(o *recvOptions) *flag.FlagSet {
	fs := newFlagSet("recv")
	fs.StringVar(&o.listen, "listen", ":"+defaultPort, "")
	fs.StringVar(&o.dir, "dir", ".", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.BoolVar(&o.once, "once", false, "")
	fs.Var(&o.allow, "allow", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	fs.BoolVar(&o.verbose, "verbose", false, "")
	fs.StringVar(&o.qlog, "qlog", "", "")
	fs.BoolVar(&o.stats, "stats", false, "")
	fs.DurationVar(&o.outage, "outage", defaultOutage, "")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", defaultIdleTimeout, "")
	return fs
}

// Defaults of --outage and --idle-timeout.
const (
	defaultOutage      = 10 * time.Minute
	defaultIdleTimeout = 60 * time.Second
)

// checkOutageFlags validates --outage and --idle-timeout.
func checkOutageFlags(outage, idle time.Duration) error {
	if outage <= 0 {
		return usagef("--outage %v: must be positive", outage)
	}
	if idle < time.Second {
		return usagef("--idle-timeout %v: must be at least 1s", idle)
	}
	return nil
}

func runRecv(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o recvOptions
	pos, err := parseArgs(recvFlags(&o), args, recvHelp, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (the directory goes after --dir)", pos[0])
	}
	if err := checkOutageFlags(o.outage, o.idleTimeout); err != nil {
		return err
	}
	var key crypto.PrivateKey
	if o.key != "" {
		if key, err = loadKey(o.key); err != nil {
			return failf("%v", err)
		}
	} else {
		if key, err = crypto.GenerateKey(); err != nil {
			return failf("%v", err)
		}
		fmt.Fprintln(stderr, "qsend: using a new key for this run only (pass --key FILE, made by qsend keygen, to keep one)")
	}
	return Receive(ctx, ReceiverConfig{
		Listen: o.listen, Dir: o.dir, Key: key, Allow: o.allow,
		Once: o.once, JSON: o.json, Quiet: o.quiet, Verbose: o.verbose,
		QlogDir: o.qlog, Stats: o.stats,
		Outage: o.outage, IdleTimeout: o.idleTimeout,
		Stdout: stdout, Stderr: stderr,
	})
}

type sendOptions struct {
	pin                         keyFlag
	key                         string
	rate                        sizeFlag
	fec                         fecFlag
	parallel                    int
	timeout                     time.Duration
	json, quiet, verbose, stats bool
	qlog                        string
	outage, idleTimeout         time.Duration
}

func sendFlags(o *sendOptions) *flag.FlagSet {
	fs := newFlagSet("send")
	fs.Var(&o.pin, "pin", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.Var(&o.rate, "rate", "")
	fs.Var(&o.fec, "fec", "")
	fs.IntVar(&o.parallel, "parallel", defaultParallel, "")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	fs.BoolVar(&o.verbose, "verbose", false, "")
	fs.StringVar(&o.qlog, "qlog", "", "")
	fs.BoolVar(&o.stats, "stats", false, "")
	fs.DurationVar(&o.outage, "outage", defaultOutage, "")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", defaultIdleTimeout, "")
	return fs
}

func runSend(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) error {
	var o sendOptions
	pos, err := parseArgs(sendFlags(&o), args, sendHelp, stdout)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("want at least one FILE or DIR and then HOST:PORT")
	}
	if o.parallel < 1 || o.parallel > maxParallel {
		return usagef("--parallel %d: want 1 to %d", o.parallel, maxParallel)
	}
	if o.timeout <= 0 {
		return usagef("--timeout %v: must be positive", o.timeout)
	}
	if err := checkOutageFlags(o.outage, o.idleTimeout); err != nil {
		return err
	}
	addr, err := receiverAddr(pos[len(pos)-1])
	if err != nil {
		return &usageError{err: err}
	}
	return Send(ctx, SenderConfig{
		Paths: pos[:len(pos)-1], Addr: addr, Pin: o.pin.key, KeyFile: o.key,
		Rate: o.rate.n, FEC: o.fec.cfg, Parallel: o.parallel, Timeout: o.timeout,
		JSON: o.json, Quiet: o.quiet, Verbose: o.verbose,
		QlogDir: o.qlog, Stats: o.stats,
		Outage: o.outage, IdleTimeout: o.idleTimeout,
		Env: env, Stdout: stdout, Stderr: stderr,
	})
}

// receiverAddr checks HOST:PORT, adding the default port to a bare host.
func receiverAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("receiver %q: want HOST:PORT", s)
		}
		return s, nil
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if bare != "" && (!strings.Contains(s, ":") || strings.HasPrefix(s, "[")) && !strings.ContainsAny(bare, "[]/") {
		return net.JoinHostPort(bare, defaultPort), nil
	}
	return "", fmt.Errorf("receiver %q: want HOST:PORT (the last argument)", s)
}
