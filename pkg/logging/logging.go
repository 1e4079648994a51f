// Package logging builds the JSON slog logger every deployable uses. Records
// logged with a context that carries a span get its trace and span ids.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// ServiceKey is the attribute naming the deployable a line comes from.
const ServiceKey = "service"

// New returns a JSON logger at the given level ("debug", "info", "warn",
// "error") tagged with the service name. With(ServiceKey, name) on it, or on
// a logger derived from it, renames the service rather than adding a second
// key: a launcher running every service in one process names each one so.
func New(w io.Writer, service, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	base := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})
	return slog.New(newHandler(base, service, nil))
}

// handler holds the service name itself instead of passing it to the JSON
// handler as an attribute: JSONHandler writes every attribute it is given,
// so a second With(ServiceKey, ...) would put the key in each line twice,
// and JSON readers reject or collapse duplicate keys.
type handler struct {
	base    slog.Handler // the JSON handler, with nothing added
	service string
	steps   []step       // the With and WithGroup calls since New, in order
	h       slog.Handler // base with the name and steps applied
}

// step is one WithAttrs (attrs) or WithGroup (group) call.
type step struct {
	attrs []slog.Attr
	group string
}

func newHandler(base slog.Handler, service string, steps []step) *handler {
	h := base.WithAttrs([]slog.Attr{slog.String(ServiceKey, service)})
	for _, s := range steps {
		if s.group != "" {
			h = h.WithGroup(s.group)
		} else {
			h = h.WithAttrs(s.attrs)
		}
	}
	return &handler{base: base, service: service, steps: steps, h: h}
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if err := h.h.Handle(ctx, r); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	service, rest := h.service, as
	// Inside a group the key is the group's own, not a second one.
	if !slices.ContainsFunc(h.steps, func(s step) bool { return s.group != "" }) {
		rest = make([]slog.Attr, 0, len(as))
		for _, a := range as {
			if a.Key == ServiceKey {
				service = a.Value.Resolve().String()
			} else {
				rest = append(rest, a)
			}
		}
	}
	steps := slices.Clip(h.steps)
	if len(rest) > 0 {
		steps = append(steps, step{attrs: rest})
	}
	if service != h.service {
		return newHandler(h.base, service, steps)
	}
	return &handler{base: h.base, service: service, steps: steps, h: h.h.WithAttrs(rest)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{base: h.base, service: h.service, steps: append(slices.Clip(h.steps), step{group: name}), h: h.h.WithGroup(name)}
}
