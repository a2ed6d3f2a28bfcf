package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{name: "token watch", usage: "[--module M]... [--count N] [--timeout D]", summary: "print tokens as they are inserted and removed (one line each)", setup: setupTokenWatch})
}

func setupTokenWatch(fs *pflag.FlagSet, g *globals) runFunc {
	tf := tokenFlags{g: g}
	tf.registerModules(fs)
	count := fs.Int("count", 0, "stop after `N` events (0: run until interrupted)")
	timeout := fs.Duration("timeout", 0, "stop after `DURATION` (0: no limit)")
	return func(ctx context.Context, std stdio, _ []string) error {
		return watchTokens(ctx, std, &tf, *count, *timeout)
	}
}

func watchTokens(ctx context.Context, std stdio, tf *tokenFlags, count int, timeout time.Duration) error {
	if count < 0 || timeout < 0 {
		return cmdLinef("--count and --timeout must not be negative")
	}
	ms, err := tf.open()
	if err != nil {
		return err
	}
	defer ms.Close()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// The tokens already present come first, as insertions, so a script
	// needs no separate listing.
	seen := 0
	for ev := range ms.Watch(ctx) {
		if count > 0 && seen == count {
			continue // draining: the watch ends once it sees the cancellation
		}
		fmt.Fprintf(std.out, "%s %s slot %d token %q serial %s\n", time.Now().UTC().Format(time.RFC3339),
			ev.Type, ev.SlotID, ev.Token.Label, ev.Token.Serial)
		if seen++; count > 0 && seen == count {
			stop()
		}
	}
	if count > 0 && seen < count {
		return usagef("%d of %d events before the time limit", seen, count)
	}
	return nil
}
