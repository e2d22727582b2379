package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tzmediator/tzbridge/bench"
)

func newBenchCommand() *cobra.Command {
	var (
		opt        bench.Options
		sizes      string
		transports string
		bulk       string
		configPath string
		jsonOut    bool
		chart      string
		peer       string
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the bridge: CA↔TA round trips against CA↔CA, throughput, the null call",
		Long: `bench reproduces the TZmediator paper's measurement. For each transport
(named pipes, UNIX, TCP and UDP sockets) it times the round trip of a message
between one client and the echo TA through "tzbridge run" (bridged), and
between the same client and a plain echo server in another process (direct),
in alternating rounds of one run, and reports p50/p90/p99 and the ratio
bridged/direct. Then a bulk transfer each way, and the null call: the NULL
command (docs/protocol.md), which the TA library answers without running TA
code, on a session with the same TA in the same secure world.

It starts its own "tzbridge run" with the demo configuration (or --config) on
a temporary mount, so it needs root, and the TA's proxy ports (the demo's TCP
7000, UDP 7001) free: stop a running demo first. --config may name another
TA that echoes what it reads, in any secure world, --ta which one: bench
measures the transports it serves (--transports picks among them): FIFO when
it declares FIFO endpoints "in" and "out", UNIX on its first unix endpoint,
TCP and UDP on its first proxy of each listening on 127.0.0.1. The table and
--json name the secure world (the configuration's tee) and the TA.

One run's figures move with where the kernel puts the client, the shadow and
the secure world on the CPUs, which is decided at start and holds for the
run: on a small or shared machine by 2× either way. --runs N repeats the round
trips and bulk transfers N times, each against a freshly started bridge and
peer, and reports the medians (ratios: the median of each run's ratio), with
every run's ratio listed and in --json as "runs".

--profile also says where the time goes. After measuring each transport it
traces a short window (--profile-window) of bridged round trips, then one of
direct round trips, with the kernel's scheduler and syscall events (tracefs,
in an instance of its own that it removes afterwards: the top-level tracing
settings are left alone), and breaks the median round trip down: the wake of
the shadow (or peer) after the client's send, each hand-off to the secure
world between two of the shadow's syscalls, the syscalls themselves, and the
wake of the client; with context switches, migrations and how often client
and shadow shared a CPU. It needs root and tracefs at /sys/kernel/tracing
(--tracefs), and takes one tracefs user at a time on a machine. Traced round
trips are slower than untraced ones, and tracefs text has microsecond
timestamps: read the breakdown as proportions.`,
		Example: `  tzbridge bench
  tzbridge bench --sizes 64,4096,65536,1048576 --chart bench.png
  tzbridge bench --json > bench.json
  tzbridge bench --runs 15 --bulk -1 --chart bench.png
  tzbridge bench --profile --transports fifo,tcp --bulk -1 --null-calls -1
  tzbridge bench --config device.yaml --ta cecho --null-calls -1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if peer != "" {
				// The direct peer: serve until the bench closes stdin.
				if err := bench.StartPeer(peer, os.Stdout); err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, os.Stdin)
				return nil
			}
			var err error
			if opt.Sizes, err = bench.ParseSizes(sizes); err != nil {
				return fmt.Errorf("--sizes: %w", err)
			}
			// Empty: what the TA serves (nil), as bench.Options reads it.
			opt.Transports = splitList(transports)
			if transports == "none" {
				opt.Transports = []string{}
			}
			opt.BulkTransports = splitList(bulk)
			if opt.BulkTransports == nil {
				opt.BulkTransports = []string{}
			}
			if configPath != "" {
				b, err := os.ReadFile(configPath)
				if err != nil {
					return err
				}
				opt.Config = string(b)
			}
			if chart != "" {
				if ext := strings.ToLower(filepath.Ext(chart)); ext != ".png" && ext != ".svg" {
					return fmt.Errorf("--chart %s: want a .png or .svg file", chart)
				}
			}
			var bar *barProgress
			if !noProgress && term.IsTerminal(int(os.Stderr.Fd())) {
				bar = &barProgress{}
				opt.Progress = bar
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, opt)
			if bar != nil {
				bar.finish()
			}
			if err != nil {
				return err
			}
			if chart != "" {
				if err := bench.WriteChart(rep, chart); err != nil {
					return fmt.Errorf("--chart: %w", err)
				}
				rep.Notes = append(rep.Notes, "chart written to "+chart)
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.WriteTable(out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "sizes", "4096", "message sizes in bytes, comma-separated; K and M suffixes allowed (64 B … 1M; UDP is capped at 65507)")
	f.StringVar(&transports, "transports", "", "transports to measure, or none (default: all the TA serves: fifo, unix, tcp, udp)")
	f.StringVar(&opt.TA, "ta", "", "the configuration's TA to measure (default: its only TA)")
	f.IntVar(&opt.Samples, "samples", bench.DefaultSamples, "round trips timed each way per transport and size")
	f.IntVar(&opt.Warmup, "warmup", bench.DefaultWarmup, "untimed round trips each way first")
	f.IntVar(&opt.Rounds, "rounds", bench.DefaultRounds, "alternations between direct and bridged")
	f.IntVar(&opt.Runs, "runs", 1, "runs, each with a fresh bridge and peer, whose medians are reported (1 to 100)")
	f.Int64Var(&opt.BulkBytes, "bulk", bench.DefaultBulkBytes, "bytes per bulk transfer (negative: none)")
	f.StringVar(&bulk, "bulk-transports", "fifo,unix,tcp", "transports given a bulk transfer")
	f.IntVar(&opt.NullCalls, "null-calls", bench.DefaultNullCalls, "null calls timed (negative: none)")
	f.StringVar(&configPath, "config", "", "bridge configuration (default: the demo, configs/echo.yaml)")
	f.BoolVar(&jsonOut, "json", false, "print the results as JSON")
	f.StringVar(&chart, "chart", "", "also draw the latencies into this .png or .svg file")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar")
	f.BoolVar(&opt.Profile, "profile", false, "also trace a short window per transport (tracefs, root) and break the round trip down")
	f.DurationVar(&opt.ProfileWindow, "profile-window", bench.DefaultProfileWindow, "length of each traced window of --profile")
	f.StringVar(&opt.ProfileTraces, "profile-traces", "", "keep the raw traces of --profile in this directory")
	f.StringVar(&opt.Tracefs, "tracefs", bench.DefaultTracefs, "where tracefs is mounted, for --profile")
	f.StringVar(&peer, "peer", "", "run as the direct echo peer in DIR (used by bench itself)")
	_ = f.MarkHidden("peer")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// barProgress draws the run's progress on stderr.
type barProgress struct {
	bar *progressbar.ProgressBar
}

func (b *barProgress) Start(total int64) {
	b.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
}

func (b *barProgress) Add(n int64, what string) {
	if b.bar == nil {
		return
	}
	b.bar.Describe(fmt.Sprintf("%-16s", what))
	_ = b.bar.Add64(n)
}

func (b *barProgress) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
		_ = b.bar.Clear()
	}
}
