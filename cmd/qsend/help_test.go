package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHelp runs the binary's help for the program and each command: exit
// status 0, text on stdout, and every option mentioned.
func TestHelp(t *testing.T) {
	tests := []struct {
		desc string
		args []string
		want []string
	}{
		{desc: "qsend --help", args: []string{"--help"}, want: []string{"qsend keygen", "qsend recv", "qsend send", "Exit status", "known_hosts"}},
		{desc: "qsend help", args: []string{"help"}, want: []string{"Usage:"}},
		{desc: "keygen", args: []string{"keygen", "--help"}, want: []string{"-o FILE", "0600", "Exit status"}},
		{desc: "recv", args: []string{"recv", "--help"}, want: []string{
			"--listen ADDR", "--dir DIR", "--key FILE", "--once", "--allow KEY", "--json", "--quiet", "--verbose",
			"listening on HOST:PORT key PUBKEY", "Exit status",
		}},
		{desc: "send", args: []string{"send", "--help"}, want: []string{
			"--pin KEY", "--key FILE", "--rate LIMIT", "--parallel N", "--timeout D", "--json", "--quiet", "--verbose",
			"bytes_sent_this_run", "migrations", "known_hosts", "Exit status", "re-run the same command to resume",
		}},
		{desc: "help send", args: []string{"help", "send"}, want: []string{"Usage: qsend send"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cmd := exec.Command(qsendBin, tt.args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("exit: %v; stderr %q", err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("help wrote to stderr: %q", stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("help lacks %q", w)
				}
			}
		})
	}
}
