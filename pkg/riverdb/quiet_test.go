package riverdb

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietDemotesRiversInfo(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  []string // lines logged, by message and level
	}{
		{slog.LevelInfo, []string{"level=WARN msg=lost", "level=ERROR msg=failed"}},
		{slog.LevelDebug, []string{"level=DEBUG msg=\"job counts\" queue=q", "level=WARN msg=lost", "level=ERROR msg=failed"}},
	} {
		var buf bytes.Buffer
		log := Quiet(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			Level:       tc.level,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return dropTime(a) },
		})))
		log.With("queue", "q").Info("job counts")
		log.Warn("lost")
		log.Error("failed")
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("at %s: logged %q, want %q", tc.level, got, tc.want)
		}
	}
	if Quiet(nil) != nil {
		t.Error("Quiet(nil) is not nil: River would log through a handler of nothing")
	}
}

func dropTime(a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
