package qsend

// The help texts. Each flag of each command appears in its command's text
// (a test checks), with the long spelling; Go's flag package accepts one or
// two dashes alike.

const mainHelp = `qsend sends files and directory trees over limpet, an encrypted transport
over UDP that survives NAT rebinding and address changes. Every file is
hashed end to end (BLAKE3) and counts as sent only when the receiver has
verified it, written it to disk and renamed it into place. An interrupted
transfer resumes where the receiver's verified data ends: run the same
command again.

Usage:
  qsend keygen [-o FILE]
  qsend recv [--listen ADDR] [--dir DIR] [--key FILE] [--once] [--allow KEY]... [--json]
  qsend send [--pin KEY] [--key FILE] [--rate LIMIT] [--fec MODE] [--outage D] [--json] FILE|DIR... HOST:PORT
  qsend help [COMMAND]

Run 'qsend COMMAND --help' for a command's options.

Example, in two terminals:
  receiver$ qsend recv --dir ~/incoming
  listening on [::]:4433 key 5bGk…=
  sender$   qsend send --pin 5bGk…= photos/ big.iso receiver.example:4433

Files:
  ~/.config/qsend/key          this machine's sender key (created on first send)
  ~/.config/qsend/known_hosts  receivers' keys, recorded on first connection
  ($XDG_CONFIG_HOME/qsend replaces ~/.config/qsend when set.)

Exit status: 0 success; 1 error; 2 usage error; 3 transfer interrupted
(the connection was lost: re-run the same command to resume).
`

const keygenHelp = `Usage: qsend keygen [-o FILE]

Generate a static key pair: the private key goes to FILE (mode 0600, never
overwritten) and the public key to FILE.pub and to standard output. A
receiver started with --key FILE keeps one identity across restarts, so
senders can pin it; a sender's key is what a receiver's --allow names.

Options:
  -o FILE   where to write the private key (default ~/.config/qsend/key,
            the key qsend send uses)

Exit status: 0 success; 1 error (for example FILE exists); 2 usage error.
`

const recvHelp = `Usage: qsend recv [--listen ADDR] [--dir DIR] [--key FILE] [--once] [--allow KEY]... [--json]

Receive files into DIR. On start qsend prints exactly one line on standard
output, so scripts can read the address and key to give the sender:

  listening on HOST:PORT key PUBKEY

Everything else goes to standard error. Files arrive under DIR with their
relative paths, permission bits and modification times; a file appears
under its name only after its hash is verified and it is on disk. Paths
that would leave DIR (absolute, "..", symbolic links pointing out) are
refused. Unfinished files wait in DIR/.qsend for the sender to resume them
(one that stays untouched for 30 days is removed); if the device fills up,
the sender is told and the part received stays there.

Options:
  --listen ADDR   UDP address to listen on (default :4433, all interfaces;
                  port 0 picks a free port)
  --dir DIR       directory to receive into, created if missing (default .)
  --key FILE      private key file (see qsend keygen); without it qsend uses
                  a new key each start, and senders must pin the new key
  --once          exit after the first transfer that completes
  --allow KEY     accept only senders with this public key (repeatable, or
                  comma-separated); without it any sender may upload
  --json          print a summary object on standard output after each
                  completed transfer (fields as for qsend send --json, plus
                  sender)
  --quiet         no progress display
  --verbose       a line for every file received
  --stats         after each completed transfer, report what limited it
                  (as for qsend send --stats; a receiver mostly learns
                  whether the sender waited for its flow-control windows)
  --qlog DIR      write each connection's qlog trace into DIR, created if
                  missing
  --outage D      keep a sender's transfer for D after its connection is
                  lost, for the sender to reconnect and carry on (default
                  10m)
  --idle-timeout D  declare a silent connection lost after D (default 60s)

Exit status: 0 stopped by a signal, or with --once a transfer completed;
1 error (with --once, also: stopped before a transfer completed); 2 usage
error.
`

const sendHelp = `Usage: qsend send [options] FILE|DIR... HOST:PORT

Send files and directory trees to a qsend receiver. Each argument arrives
under its base name; directories are sent whole with relative paths,
permission bits, modification times and empty directories. Symbolic links
inside a directory are skipped with a warning. Several files are in flight
at once, each on its own stream.

qsend exits 0 only after the receiver has confirmed every file: hash
verified, data fsync'd, file renamed into place. If the network goes away
(an outage, a new address, a laptop lid closed), qsend waits for the path
and carries on where the receiver's application stopped reading, for up to
--outage. If the transfer is interrupted anyway (either side restarted, or
the outage lasted longer), run the same command again: the receiver
re-hashes what it has, and only the rest is sent. Without a port, HOST
means HOST:4433.

The receiver's key is checked the way ssh checks host keys. --pin names it;
without --pin, the first connection to HOST:PORT records the key the
receiver proves in known_hosts, and later connections refuse a different
key with a warning.

Options:
  --pin KEY        the receiver's public key, as qsend recv prints it
  --key FILE       this sender's private key (default ~/.config/qsend/key,
                   created on first use)
  --rate LIMIT     at most LIMIT bytes per second, e.g. 50M; k, M, G are
                   powers of 1000, Ki, Mi, Gi powers of 1024
  --fec MODE       forward error correction: auto (the default) sends
                   repair packets only on a path seen to lose packets,
                   and only for the end of each burst of data; off sends
                   none; K+M sends M repair packets with every K of data
                   (such as 8+2: 25 % more packets, and up to 2 lost ones
                   per group rebuilt without waiting a round trip for them
                   to be resent)
  --parallel N     files in flight at once (default 8, at most 24)
  --timeout D      give up reaching the receiver after D (default 10s)
  --json           print a summary object on standard output at the end:
                   files, files_failed, bytes, bytes_sent_this_run,
                   resumed_bytes, delivered_bytes, seconds,
                   goodput_mbytes_per_s (10^6 bytes/s of new data),
                   retransmitted_bytes, migrations, fec_repair_packets
                   if any, reconnections and resent_bytes if the path
                   was lost, with --stats bottleneck, and error on
                   failure
  --quiet          no progress display
  --verbose        a line for every file sent
  --stats          at the end, report what limited the transfer: the share
                   of the time the congestion window, pacing, the
                   receiver's flow-control windows, the socket, the CPU or
                   qsend itself held the sender back, with the loss rate,
                   the RTT and a line of advice (with --json, also as the
                   summary's bottleneck object)
  --qlog DIR       write the connection's qlog trace (JSON-SEQ, one
                   .sqlog file per connection, readable by qvis) into DIR,
                   created if missing
  --outage D       ride out a network outage of up to D by reconnecting,
                   from a new address if need be (default 10m)
  --idle-timeout D declare a silent connection lost after D and reconnect
                   (default 60s)

Progress goes to standard error: a live display (bytes, rate, ETA, the
largest files in flight) when it is a terminal, otherwise a line every 10 s.

Exit status: 0 every file confirmed; 1 error (receiver unreachable, wrong
or changed key, file not found, permission denied, the receiver's disk
full, a file not delivered); 2 usage error; 3 transfer interrupted (the
receiver restarted, or the path stayed down longer than --outage):
re-run the same command to resume.
`
