package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/logging"
)

// Every line is one JSON object with each key once, and names the service
// that wrote it: the gateway and a service as their own processes, and as
// the in-process launcher names them on its own logger.
func TestLinesCarryEachKeyOnce(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	gatewayLine := func(log *slog.Logger) {
		log.InfoContext(ctx, "http", "method", "GET", "route", "/v1/emissions/summary", "status", 200, "ms", 1.25, "request_id", "r1")
	}
	serviceLine := func(log *slog.Logger) {
		log.With("cache", "summaries").ErrorContext(ctx, "internal error", "method", "/vcci.calculator.v1.CalculatorService/Summarize", "error", "boom")
	}
	for _, tc := range []struct {
		name    string
		log     func(w io.Writer) *slog.Logger
		line    func(*slog.Logger)
		service string
	}{
		{"gateway", func(w io.Writer) *slog.Logger { return logging.New(w, "gateway", "info") }, gatewayLine, "gateway"},
		{"gateway in one process", func(w io.Writer) *slog.Logger {
			return logging.New(w, "vcci", "info").With("service", "gateway")
		}, gatewayLine, "gateway"},
		{"calculator", func(w io.Writer) *slog.Logger { return logging.New(w, "calculator", "debug") }, serviceLine, "calculator"},
		{"calculator in one process", func(w io.Writer) *slog.Logger {
			return logging.New(w, "vcci", "info").With("service", "calculator")
		}, serviceLine, "calculator"},
		{"named after other attributes", func(w io.Writer) *slog.Logger {
			return logging.New(w, "vcci", "info").With("component", "river").With("service", "intake")
		}, serviceLine, "intake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.line(tc.log(&buf))
			line := strings.TrimSuffix(buf.String(), "\n")
			if strings.Contains(line, "\n") {
				t.Fatalf("want one line, got %q", buf.String())
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("decode %s: %v", line, err)
			}
			if m["service"] != tc.service {
				t.Errorf("service = %v, want %q in %s", m["service"], tc.service, line)
			}
			if m["trace_id"] != sc.TraceID().String() || m["span_id"] != sc.SpanID().String() {
				t.Errorf("trace_id, span_id = %v, %v, want the span's in %s", m["trace_id"], m["span_id"], line)
			}
			if err := uniqueKeys(line); err != nil {
				t.Errorf("%v in %s", err, line)
			}
		})
	}
}

// A "service" inside a group is that group's, and leaves the line's alone.
func TestServiceInAGroupIsTheGroups(t *testing.T) {
	var buf bytes.Buffer
	logging.New(&buf, "reporting", "info").WithGroup("peer").With("service", "calculator").Info("dial")
	var m struct {
		Service string `json:"service"`
		Peer    struct {
			Service string `json:"service"`
		} `json:"peer"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Service != "reporting" || m.Peer.Service != "calculator" {
		t.Errorf("service %q, peer.service %q; want reporting, calculator in %s", m.Service, m.Peer.Service, buf.String())
	}
	if err := uniqueKeys(buf.String()); err != nil {
		t.Error(err)
	}
}

// uniqueKeys scans one JSON value token by token (json.Unmarshal keeps the
// last of two equal keys and says nothing) and reports a key that appears
// twice in one object.
func uniqueKeys(s string) error {
	dec := json.NewDecoder(strings.NewReader(s))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token of an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.keys[k] {
				return errors.New("key " + k + " appears twice")
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a key comes next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// The scan itself finds a repeated key, at the top and nested.
func TestUniqueKeysFindsRepeats(t *testing.T) {
	for _, s := range []string{
		`{"service":"vcci","msg":"x","service":"gateway"}`,
		`{"a":[{"b":1,"b":2}]}`,
	} {
		if uniqueKeys(s) == nil {
			t.Errorf("%s: no repeat found", s)
		}
	}
	if err := uniqueKeys(`{"a":{"service":1},"service":2,"b":[1,{"service":3}]}`); err != nil {
		t.Errorf("distinct objects: %v", err)
	}
}
