package grpcserver_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// While an invalidation of the process has not reached Redis, every answer
// says so (cache.UnsureHeader), for the gateway's edge cache; once the
// process no longer holds one, none does.
func TestAnswersAreMarkedWhileInvalidationsAreUnpublished(t *testing.T) {
	hc := healthpb.NewHealthClient(testsupport.Dial(t, serve(t, grpcserver.Options{})))
	unsure := func() []string {
		t.Helper()
		var md metadata.MD
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
			t.Fatal(err)
		}
		return md.Get(cache.UnsureHeader)
	}
	if got := unsure(); len(got) != 0 {
		t.Fatalf("marked %q with nothing unpublished", got)
	}
	// A Redis that refuses connections: the invalidation stays pending.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	c := cache.New(cache.Options[string]{Name: "unsure-test", Redis: rdb})
	c.Invalidate(context.Background(), "tenant-a")
	if got := unsure(); len(got) != 1 || got[0] != "1" {
		t.Fatalf("marked %q with an invalidation unpublished, want [1]", got)
	}
	c.Close()
	if got := unsure(); len(got) != 0 {
		t.Fatalf("marked %q after the cache holding it closed", got)
	}
}
