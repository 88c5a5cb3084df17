package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/limpetnet/limpet/cmd/qsend/internal/qsend"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := qsend.Main(ctx, os.Args[1:], qsend.EnvFromOS(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
