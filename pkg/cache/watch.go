package cache

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Watcher is told what a subscription to InvalidateChannel hears. Its
// methods are called from one goroutine, in order.
type Watcher interface {
	// Subscribed: a subscription is confirmed. Messages sent while there
	// was none may have been missed.
	Subscribed()
	// Message is one invalidation ("name:scope:version"; ParseStamp reads
	// it). A message on the channel may carry several, separated by
	// spaces: each is told apart.
	Message(payload string)
	// Lost: the subscription failed, or stopped answering pings
	// (ErrUnresponsive); Watch subscribes again.
	Lost(err error)
	// Idle: a tick passed with no message, and the connection was pinged.
	Idle()
}

// ErrUnresponsive is what Lost is told when the subscription's connection
// stopped answering pings, although TCP had not noticed.
var ErrUnresponsive = errors.New("invalidation subscription unresponsive")

// Watch subscribes to InvalidateChannel and tells w what it hears until ctx
// ends. After an error it subscribes again, backing off while Redis is
// down; a tick with no message sends a ping, and a ping unanswered for a
// further tick replaces the connection.
func Watch(ctx context.Context, rdb *redis.Client, w Watcher) {
	var mu sync.Mutex
	ps := rdb.Subscribe(ctx, InvalidateChannel) // connects lazily if Redis is down
	stopped := make(chan struct{})
	defer close(stopped)
	defer func() {
		mu.Lock()
		ps.Close()
		mu.Unlock()
	}()
	go func() {
		// A pending receive ends only with its connection.
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		mu.Lock()
		ps.Close()
		mu.Unlock()
	}()
	wait := subscriberRetryFirst
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, subscriberTick)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				if pinged {
					w.Lost(ErrUnresponsive)
					mu.Lock()
					ps.Close()
					ps = rdb.Subscribe(ctx, InvalidateChannel)
					mu.Unlock()
					pinged = false
					continue
				}
				pinged = ps.Ping(ctx) == nil
				w.Idle()
				continue
			}
			w.Lost(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, subscriberRetryLast)
			continue
		}
		wait, pinged = subscriberRetryFirst, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				w.Subscribed()
			}
		case *redis.Message:
			stamps := strings.Fields(m.Payload)
			if len(stamps) == 0 {
				w.Message(m.Payload) // unreadable: the watcher decides
			}
			for _, st := range stamps {
				w.Message(st)
			}
		}
	}
}
