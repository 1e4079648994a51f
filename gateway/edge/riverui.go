package edge

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"
)

// RiverUIPath is where the gateway serves River's operator UI when it is on.
const RiverUIPath = "/riverui/"

// riverSchema holds intake's River tables (intake's store.RiverSchema).
const riverSchema = "river"

// RiverUI returns River's operator UI over the jobs in pool, for RiverUIPath,
// open only to the operator's user and password (HTTP basic auth); it runs
// until ctx ends. It lets an operator see, retry and cancel upload jobs, so
// it is never served without a password.
func RiverUI(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, user, password string) (http.Handler, error) {
	if user == "" || password == "" {
		return nil, errors.New("edge.RiverUI: an operator user and password are required")
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: riverSchema, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("edge.RiverUI: %w", err)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(client, nil), Logger: log,
		Prefix: RiverUIPath, JobListHideArgsByDefault: true})
	if err != nil {
		return nil, fmt.Errorf("edge.RiverUI: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("edge.RiverUI: %w", err)
	}
	return basicAuth(ui, user, password), nil
}

// basicAuth lets through only requests with user and password.
func basicAuth(h http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		// Both compared, in constant time, whatever the first gives.
		userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
		if !ok || !userOK || !passOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="river", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
