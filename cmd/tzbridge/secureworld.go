package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/catalog"
)

func newSecureWorldCommand(g *globalFlags) *cobra.Command {
	var socket string
	var listenFD, adminFD int
	var tas []string
	var procs int
	cmd := &cobra.Command{
		Use:   "secure-world",
		Short: "Run the simulated secure world (started by run; rarely run by hand)",
		Long: `secure-world hosts built-in Trusted Applications behind the GlobalPlatform
TEE Client API, the way OP-TEE does behind /dev/teeN. "tzbridge run" starts it
by itself when the configuration says tee: sim. Run it by hand to drive TAs
with your own teeclient program.`,
		Example: `  tzbridge secure-world --socket /tmp/sw.sock --ta echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60=builtin:echo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			log = log.With("component", "secure-world")
			if procs < 0 || procs > securesim.MaxThreads {
				return fmt.Errorf("--procs %d: want 0 to %d", procs, securesim.MaxThreads)
			}
			// One P by default: every hand-off inside the simulator (a
			// RESUME to the TA's program goroutine and back) is then a
			// goroutine switch on the running thread. With more, the
			// runtime wakes an idle thread (a futex, often another CPU)
			// at each hand-off, which measured several times slower per
			// RESUME on a 2-core machine. But with one P, a wasm module
			// that computes holds it for a scheduler time slice (10 ms)
			// each time: so each running wasm program gets a P of its own
			// (--procs 0, the default), or the P count is fixed (--procs N).
			runtime.GOMAXPROCS(max(procs, 1))
			var defs []securesim.Definition
			for _, spec := range tas {
				d, err := resolveSpec(spec, log)
				if err != nil {
					return fmt.Errorf("--ta %w", err)
				}
				defs = append(defs, d)
			}
			host, err := securesim.NewHost(defs, log)
			if err != nil {
				return err
			}
			if procs == 0 {
				host.ThreadPerProgram(1)
			}
			prepare(host, defs, procs)
			l, err := listener(socket, listenFD)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if adminFD >= 0 {
				admin, err := adminConn(adminFD)
				if err != nil {
					l.Close()
					return err
				}
				go func() {
					resolve := func(spec string) (securesim.Definition, error) { return resolveSpec(spec, log) }
					if err := host.ServeAdmin(ctx, admin, resolve); err != nil {
						log.Error("admin socket", "err", err)
					}
				}()
			}
			return securesim.NewServer(host, log).Serve(ctx, l)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "listen on this UNIX socket path")
	cmd.Flags().IntVar(&listenFD, "listen-fd", -1, "serve an inherited listening socket (used by run)")
	cmd.Flags().IntVar(&adminFD, "admin-fd", -1, "take TA definitions and removals on this inherited socket (used by run's reload)")
	cmd.Flags().IntVar(&procs, "procs", 0, "threads running Go code at once (GOMAXPROCS); 0: one, plus one for each running wasm TA program")
	cmd.Flags().StringArrayVar(&tas, "ta", nil, "host a TA, as NAME=UUID=KIND:VALUE with KIND builtin, wasm or native (repeatable)")
	return cmd
}

func listener(socket string, fd int) (*net.UnixListener, error) {
	switch {
	case socket != "" && fd >= 0:
		return nil, fmt.Errorf("--socket and --listen-fd exclude each other")
	case socket != "":
		l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: socket, Net: "unixpacket"})
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", socket, err)
		}
		return l, nil
	case fd >= 0:
		f := os.NewFile(uintptr(fd), "secure-world-listener")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--listen-fd %d: %w", fd, err)
		}
		ul, ok := l.(*net.UnixListener)
		if !ok {
			l.Close()
			return nil, fmt.Errorf("--listen-fd %d is not a UNIX socket", fd)
		}
		return ul, nil
	}
	return nil, fmt.Errorf("say where to listen: --socket PATH")
}

// resolveSpec turns a --ta spec (or an admin define request) into what the
// host runs; the TA logs to log.
func resolveSpec(spec string, log *slog.Logger) (securesim.Definition, error) {
	ta, err := catalog.ParseSpec(spec)
	if err != nil {
		return securesim.Definition{}, err
	}
	d, err := catalog.Definition(ta, log)
	if err != nil {
		return securesim.Definition{}, fmt.Errorf("%q: %w", spec, err)
	}
	return d, nil
}

// adminConn is the inherited admin socket.
func adminConn(fd int) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), "secure-world-admin")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("--admin-fd %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("--admin-fd %d is not a UNIX socket", fd)
	}
	return uc, nil
}

// prepare runs every definition's Prepare (a wasm TA's compilation) at
// once, so that TAs are ready sooner than if each compiled at its first
// session, one after the other. The simulator runs Go code on few
// threads, for fast hand-offs: with --procs 0 (the default) each
// compilation holds a thread of its own while it runs (Host.GoPrepare), as
// a running wasm program does; with --procs N it may use one per CPU while
// the compilations run, so that they really run in parallel, and goes back
// to N when they are done.
func prepare(host *securesim.Host, defs []securesim.Definition, procs int) {
	if !slices.ContainsFunc(defs, func(d securesim.Definition) bool { return d.Prepare != nil }) {
		return
	}
	if procs > 0 && procs < runtime.NumCPU() {
		runtime.GOMAXPROCS(runtime.NumCPU())
	}
	var wg sync.WaitGroup
	for _, d := range defs {
		host.GoPrepare(d, &wg)
	}
	go func() {
		wg.Wait()
		if procs > 0 {
			runtime.GOMAXPROCS(procs)
		}
	}()
}
