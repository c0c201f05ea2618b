package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// onHangup calls f on every SIGHUP until ctx ends: the convention of logrotate (reopen
// the access log) and of certificate rotation (reload TLS pairs). Each caller has its
// own subscription, so every one of them sees every signal.
func onHangup(ctx context.Context, f func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				f()
			}
		}
	}()
}
