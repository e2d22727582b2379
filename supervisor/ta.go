package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/fusefs"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
)

// taRunner keeps one TA running by its restart policy and reports its
// state for the status view.
type taRunner struct {
	cfg  config.TA
	tree *fusefs.FS
	tc   *teeclient.Context
	log  *slog.Logger // tagged with the TA
	// shadowLog is the untagged logger: the shadow tags its records itself.
	shadowLog *slog.Logger

	mu       sync.Mutex
	state    string
	since    time.Time
	restarts int
	lastErr  string
	current  *shadow.Shadow
}

func (r *taRunner) setState(state string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.since = state, time.Now()
	if err != nil {
		r.lastErr = err.Error()
	}
}

// status renders the TA's /tz/<ta>/.tz/status file: one "key: value" per
// line, read by `tzbridge status`.
func (r *taRunner) status() []byte {
	r.mu.Lock()
	state, since, restarts, lastErr, sh := r.state, r.since, r.restarts, r.lastErr, r.current
	r.mu.Unlock()
	var st shadow.Stats
	if sh != nil {
		st = sh.Stats()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\n", r.cfg.Name)
	fmt.Fprintf(&b, "uuid: %s\n", r.cfg.UUID)
	fmt.Fprintf(&b, "state: %s\n", state)
	fmt.Fprintf(&b, "since: %s\n", since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "restarts: %d\n", restarts)
	fmt.Fprintf(&b, "open_descriptors: %d\n", st.OpenDescriptors)
	fmt.Fprintf(&b, "calls: %d\n", st.Calls)
	fmt.Fprintf(&b, "errors: %d\n", st.Errors)
	fmt.Fprintf(&b, "bytes_in: %d\n", st.BytesIn)
	fmt.Fprintf(&b, "bytes_out: %d\n", st.BytesOut)
	if lastErr != "" {
		fmt.Fprintf(&b, "last_error: %s\n", strings.ReplaceAll(lastErr, "\n", " "))
	}
	return []byte(b.String())
}

// treeOptions describes the TA's directory for the FUSE tree.
func (r *taRunner) treeOptions() (fusefs.TAOptions, error) {
	opts := fusefs.TAOptions{Status: r.status, CAMayModify: r.cfg.CAMayModify}
	for _, e := range r.cfg.Endpoints {
		uid, err := config.LookupUser(e.Owner)
		if err != nil {
			return opts, err
		}
		gid, err := config.LookupGroup(e.Group)
		if err != nil {
			return opts, err
		}
		kind := fusefs.FIFO
		if e.Kind == "unix" {
			kind = fusefs.UnixSocket
		}
		opts.Endpoints = append(opts.Endpoints, fusefs.Endpoint{Name: e.Name, Kind: kind, Mode: os.FileMode(e.Mode.Perm), UID: uid, GID: gid})
	}
	return opts, nil
}

// run keeps the TA's shadow running by the TA's policy, backing off while
// it keeps failing, until ctx is done.
func (r *taRunner) run(ctx context.Context, root string) {
	const minBackoff, maxBackoff, healthy = 100 * time.Millisecond, 5 * time.Second, 10 * time.Second
	backoff := minBackoff
	for {
		err := r.runOnce(ctx, root)
		if ctx.Err() != nil {
			r.setState("stopped", nil)
			return
		}
		switch {
		case err == nil && r.cfg.Restart != "always":
			r.log.Info("TA exited; not restarting", "restart", r.cfg.Restart)
			r.setState("exited", nil)
			return
		case err != nil && r.cfg.Restart == "never":
			r.log.Error("TA failed; not restarting", "err", err, "restart", r.cfg.Restart)
			r.setState("failed", err)
			return
		}
		r.mu.Lock()
		if time.Since(r.since) > healthy {
			backoff = minBackoff
		}
		r.restarts++
		n := r.restarts
		r.mu.Unlock()
		r.setState("restarting", err)
		r.log.Warn("TA stopped; restarting", "why", describe(err), "in", backoff, "restarts", n)
		select {
		case <-ctx.Done():
			r.setState("stopped", nil)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		if r.cfg.OnRestart == "clear" {
			if err := r.resetTree(); err != nil {
				r.log.Error("cannot clear the TA's directory", "err", err)
			}
		}
	}
}

func (r *taRunner) runOnce(ctx context.Context, root string) error {
	sh, err := shadow.New(shadow.Config{
		Name:           r.cfg.Name,
		UUID:           r.cfg.UUID,
		Root:           root,
		Mailbox:        r.cfg.Mailbox,
		MaxDescriptors: r.cfg.Limits.Descriptors,
		Logger:         r.shadowLog,
	})
	if err != nil {
		return err
	}
	defer sh.Close()
	r.mu.Lock()
	r.current = sh
	r.mu.Unlock()
	r.setState("running", nil)
	return sh.Run(ctx, r.tc)
}

// resetTree empties the TA's directory back to its declared endpoints.
func (r *taRunner) resetTree() error {
	if r.tree == nil {
		return nil
	}
	opts, err := r.treeOptions()
	if err != nil {
		return err
	}
	if err := r.tree.RemoveTA(r.cfg.Name); err != nil {
		return err
	}
	_, err = r.tree.AddTA(r.cfg.Name, opts)
	return err
}

func describe(err error) string {
	switch {
	case err == nil:
		return "exited"
	case errors.Is(err, teeclient.ErrorTargetDead):
		return "TA died (TEEC_ERROR_TARGET_DEAD): " + err.Error()
	}
	return err.Error()
}
