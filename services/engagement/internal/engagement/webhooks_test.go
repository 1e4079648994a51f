package engagement_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

// The schedule outlasts DisableAfter, so an endpoint down for a day is
// disabled before its deliveries run out of attempts, and each wait is
// the schedule's.
func TestRetrySchedule(t *testing.T) {
	p := engagement.RetryPolicy{Schedule: engagement.RetrySchedule}
	attempts := engagement.DeliverArgs{}.InsertOpts().MaxAttempts
	var total time.Duration
	for attempt := 1; attempt < attempts; attempt++ {
		before := time.Now()
		wait := p.NextRetry(&rivertype.JobRow{Attempt: attempt}).Sub(before)
		want := engagement.RetrySchedule[attempt-1]
		if wait < want || wait > want+time.Second {
			t.Fatalf("after attempt %d: wait %v, want %v", attempt, wait, want)
		}
		total += want
	}
	if total <= engagement.DisableAfter {
		t.Fatalf("the retries span %v, want more than %v", total, engagement.DisableAfter)
	}
	if w := time.Until(p.NextRetry(&rivertype.JobRow{Attempt: 50})); w > 6*time.Hour+time.Second {
		t.Fatalf("a late attempt waits %v, want at most the last step", w)
	}
}
