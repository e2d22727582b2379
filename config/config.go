// Package config reads and checks tzbridge's configuration file: where the
// /tz tree is mounted, which TEE to use, and the TAs to bridge with their
// limits. Unknown fields are errors, and every error names the file and the
// field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/internal/restart"
	"github.com/tzmediator/tzbridge/internal/teekind"
)

// Defaults applied to fields the file leaves out.
const (
	DefaultMount       = "/tz"
	DefaultTEE         = "sim"
	MaxSimThreads      = 1024
	DefaultDescriptors = 256
	DefaultMailbox     = 256 << 10
	MinMailbox         = 8 << 10
	// MaxMailbox is what OP-TEE gives as registered shared memory (8 MiB
	// seen with OP-TEE 4.10: 16 MiB fails in alloc_pgt); a device without
	// REG_MEM gives at most shadow.MaxAllocatedMailbox.
	MaxMailbox     = 8 << 20
	MaxDescriptors = 65536
	// DefaultNodes is limits.nodes when the file leaves it out: 16 times
	// the default descriptor limit, room for a TA that keeps a node per
	// client or per connection, at a few MB of the supervisor's memory
	// (docs/reliability.md has the figures). MaxNodes bounds it.
	DefaultNodes = 4096
	MaxNodes     = 1 << 16
	DefaultUser  = "root"
	DefaultGroup = "root"
	// MinMemory is the smallest memory limit a shadow process runs with.
	MinMemory = 64 << 20
	// MinWasmMemory and MaxWasmMemory bound a wasm TA's linear memory: one
	// 64 KiB page at least, and wasm32's 4 GiB address space at most.
	MinWasmMemory = 64 << 10
	MaxWasmMemory = 4 << 30
)

// Config is a whole configuration file.
type Config struct {
	// Mount is where the /tz tree is served.
	Mount string `yaml:"mount"`
	// TEE selects the secure world: "sim" (the built-in simulator), "auto"
	// (the first GP-capable /dev/teeN) or a device path.
	TEE string `yaml:"tee"`
	// Metrics, when set, is the TCP address, IP:PORT, at which tzbridge
	// run serves Prometheus metrics (/metrics) for every TA, e.g.
	// 127.0.0.1:9464 (0.0.0.0:9464 for every address; nothing protects
	// the endpoint, so keep it local or firewalled). It also makes every
	// shadow time each call for the latency histograms, which costs two
	// clock reads per call. Default empty: no endpoint, no timing.
	// docs/metrics.md lists the metrics.
	Metrics string `yaml:"metrics"`
	// SimThreads is how many threads run the simulated secure world's Go
	// code at once (its GOMAXPROCS; tee: sim only). Default 0, automatic:
	// one, on which every hand-off to a TA is a goroutine switch (measured
	// several times faster per call than waking another thread), plus one
	// for each wasm TA program while it runs, so that a module computing
	// without a call cannot hold the thread the other TAs' calls need.
	// N fixes the count at N: round trips measured 13-20 % faster while
	// wasm TAs run, but a wasm TA that computes then delays the others'
	// hand-offs by Go's scheduler time slice (10 ms) each.
	// configs/reference.yaml has the figures.
	SimThreads int `yaml:"sim_threads"`
	// TAs are the Trusted Applications to bridge; at least one.
	TAs []TA `yaml:"tas"`
}

// TEEKind is TEE, typed (package teekind); the default when TEE is not
// one the configuration allows.
func (c *Config) TEEKind() teekind.Kind {
	k, _ := teekind.Parse(c.TEE)
	return k
}

// TA is one Trusted Application to bridge.
type TA struct {
	// Name is the TA's directory under the mount and its name in logs.
	Name string `yaml:"name"`
	// UUID is the TA's identity in the secure world.
	UUID gp.UUID `yaml:"uuid"`
	// Builtin names a TA compiled into the simulator (for example "echo").
	Builtin string `yaml:"builtin"`
	// Wasm is a WebAssembly (WASI preview 1) module the simulator runs as
	// the TA.
	Wasm string `yaml:"wasm"`
	// Native is a host-built TA program (for example the C echo TA) that
	// the simulator drives through the GP entry points.
	Native string `yaml:"native"`
	// With tee: sim exactly one of Builtin, Wasm and Native says what the
	// TA is; on a device, none: the TA is the one installed for its UUID.

	// Listen lists sockets made for a wasm TA before it starts and handed
	// to it as preopened descriptors, in order (WASI preview 1 cannot
	// create sockets): tcp://127.0.0.1:7100, udp://127.0.0.1:7101 or
	// unix:/name.sock (a path inside the TA's directory).
	Listen []string `yaml:"listen"`
	// Restart says when a TA that stopped is started again: "always",
	// "on-failure" (the default) or "never".
	Restart string `yaml:"restart"`
	// Mailbox is the size of the shared request buffer in bytes.
	Mailbox int `yaml:"mailbox"`
	// Limits bound what the TA may hold.
	Limits Limits `yaml:"limits"`
	// Endpoints are created in the TA's directory before it starts, with
	// the owner and mode given, so that the kernel enforces who may open
	// them.
	Endpoints []Endpoint `yaml:"endpoints"`
	// OnRestart says what happens to the TA's directory when the TA
	// restarts: "keep" (the default) leaves every node in place, "clear"
	// empties it back to the declared endpoints.
	OnRestart string `yaml:"on_restart"`
	// CAMayModify lets CAs create, rename and delete nodes in the TA's
	// directory (the kernel still applies the directory's mode). By
	// default only the TA (through its shadow) may.
	CAMayModify bool `yaml:"ca_may_modify"`

	// The TA's shadow is a process of its own (`tzbridge shadow`), run as
	// User and Group (names or numbers; default root), with
	// RLIMIT_NOFILE set from Limits.Descriptors plus room for the
	// shadow's own descriptors, no core dumps, and no capabilities beyond
	// those it needs: CAP_DAC_OVERRIDE only when a declared endpoint's
	// owner and mode would otherwise lock the shadow out, and
	// CAP_NET_BIND_SERVICE only with PrivilegedPorts. A shadow that is
	// not root needs the mount point's parent directories to be
	// searchable by User.
	User  string `yaml:"user"`
	Group string `yaml:"group"`
	// PrivilegedPorts lets the TA bind ports below 1024 (the shadow
	// keeps CAP_NET_BIND_SERVICE), also as published addresses (Proxies
	// left out), which tzbridge run binds for it. Default false. Proxy
	// addresses below 1024 need no such thing: tzbridge run binds them
	// itself.
	PrivilegedPorts bool `yaml:"privileged_ports"`

	// Netns gives the TA a network namespace of its own, named tz-<name>
	// (so that `ip netns exec tz-<name> …` enters it), holding only lo;
	// its shadow runs in it and every socket the TA makes is made there.
	// Default true; false runs the shadow in the host's namespace.
	Netns *bool `yaml:"netns"`
	// HostAccess lets a TA in its own namespace reach services of the
	// host namespace: true for every destination, or a list of
	// tcp://IP:PORT and udp://IP:PORT. The TA's connect to such a
	// destination is made with a socket from the host namespace (no
	// relay). Default none: the TA reaches nothing outside its namespace.
	// Unconnected UDP (sendto without connect) stays in the namespace.
	HostAccess HostAccess `yaml:"host_access"`
	// Proxies are the addresses at which CAs in the host namespace reach
	// the TA's sockets: each maps a listen address, made by tzbridge run
	// in the host namespace, to the address the TA binds ("to"), e.g.
	// {listen: tcp://127.0.0.1:7000, to: tcp://127.0.0.1:7000} or
	// {listen: unix:/run/echo.sock, to: unix:/echo.sock} (to: a path in
	// the TA's directory). Left out, every TCP and UDP address the TA
	// binds with a nonzero port is published as it is: bound in the host
	// namespace on the TA's behalf, as if the TA had no namespace of its
	// own. An empty list publishes nothing: the TA's TCP and UDP sockets
	// are then reachable only from inside its namespace. See package
	// sockproxy.
	Proxies []Proxy `yaml:"proxies"`
}

// RestartPolicy is Restart, typed (package restart); the default when
// Restart is not one the configuration allows.
func (t TA) RestartPolicy() restart.Policy {
	p, _ := restart.ParsePolicy(t.Restart)
	return p
}

// OnRestartTree is OnRestart, typed (package restart); the default when
// OnRestart is not one the configuration allows.
func (t TA) OnRestartTree() restart.Tree {
	tr, _ := restart.ParseTree(t.OnRestart)
	return tr
}

// NetnsEnabled reports whether the TA gets a network namespace of its own.
func (t TA) NetnsEnabled() bool { return t.Netns == nil || *t.Netns }

// Proxy maps an address in the host namespace to one the TA binds.
type Proxy struct {
	// Listen is where CAs connect: tcp://IP:PORT, udp://IP:PORT, or
	// unix:/PATH (a host path, outside the mount).
	Listen string `yaml:"listen"`
	// To is the TA's address: tcp://IP:PORT or udp://IP:PORT as the TA
	// binds it in its namespace (the same network and IP family as
	// Listen), or unix:/PATH inside the TA's directory.
	To string `yaml:"to"`
}

// HostAccess is a TA's host_access: true, or a list of destinations.
type HostAccess struct {
	// All lets every destination through.
	All bool
	// Addrs are the destinations let through: tcp://IP:PORT or
	// udp://IP:PORT.
	Addrs []string
}

// Any reports whether anything is let through.
func (h HostAccess) Any() bool { return h.All || len(h.Addrs) > 0 }

// UnmarshalYAML accepts a boolean or a list of addresses. Its errors
// carry no line: the caller knows where host_access is.
func (h *HostAccess) UnmarshalYAML(n *yaml.Node) error {
	const want = "want true, false or a list of tcp://IP:PORT and udp://IP:PORT"
	switch n.Kind {
	case yaml.ScalarNode:
		var all bool
		if err := n.Decode(&all); err != nil {
			return fmt.Errorf("%q: %s", n.Value, want)
		}
		*h = HostAccess{All: all}
		return nil
	case yaml.SequenceNode:
		addrs := make([]string, len(n.Content))
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("item %d is not a single address: %s", i, want)
			}
			addrs[i] = e.Value
		}
		*h = HostAccess{Addrs: addrs}
		return nil
	}
	return errors.New(want)
}

// Endpoint is a node declared in a TA's directory.
type Endpoint struct {
	// Name is the path inside the TA's directory, e.g. "in" or "sub/x".
	Name string `yaml:"name"`
	// Kind is "fifo" or "unix" (a UNIX socket node, created when the TA
	// binds it).
	Kind string `yaml:"kind"`
	// Mode is the node's permission bits (default "0600").
	Mode Mode `yaml:"mode"`
	// Owner and Group own the node: names or numbers (default 0, root).
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// Source says what the simulator runs for the TA: ("builtin", name),
// ("wasm", file) or ("native", program); ("", "") when none is set.
func (t TA) Source() (kind, value string) {
	switch {
	case t.Builtin != "":
		return "builtin", t.Builtin
	case t.Wasm != "":
		return "wasm", t.Wasm
	case t.Native != "":
		return "native", t.Native
	}
	return "", ""
}

// Limits bound what one TA may hold.
type Limits struct {
	// Descriptors is the most descriptors the TA may have open at once.
	Descriptors int `yaml:"descriptors"`
	// Sockets is the most of those descriptors that may be sockets; 0
	// (the default) means Descriptors. A TA at either limit gets EMFILE.
	Sockets int `yaml:"sockets"`
	// Nodes is the most nodes (FIFOs, UNIX socket nodes, directories) the
	// TA's directory may hold at once, the declared endpoints and their
	// directories included. Past it, creating one fails with EDQUOT.
	Nodes int `yaml:"nodes"`
	// WasmMemory caps a wasm TA's linear memory in bytes (rounded down to
	// 64 KiB pages); 0 means the default of 256 MiB. A module that grows
	// past it gets a failed memory.grow, as on a full heap.
	WasmMemory int64 `yaml:"wasm_memory"`
	// Memory caps the shadow process's data segment (RLIMIT_DATA, which
	// counts its heap), in bytes; 0 (the default) sets no limit. At least
	// MinMemory.
	Memory int64 `yaml:"memory"`
}

// A Check looks for problems this package cannot judge, such as a
// built-in TA the simulator does not have, in a configuration that is
// otherwise valid. It reports each with the field's full path (Field and
// Problem set); Load adds the file and the line.
type Check func(*Config) []*FieldError

// Load reads and checks the file at path, then runs checks. Its errors
// are *FieldError values (several joined with errors.Join), each naming
// the file, the line and the field.
func Load(path string, checks ...Check) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, pos, err := parse(b, path)
	if err != nil {
		return nil, err
	}
	// Files a TA names are relative to the configuration file.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i := range c.TAs {
		for _, f := range []*string{&c.TAs[i].Wasm, &c.TAs[i].Native} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
	}
	var errs []*FieldError
	for _, check := range checks {
		for _, e := range check(c) {
			e.Line = pos.line(e.Field)
			errs = append(errs, e)
		}
	}
	if err := located(path, errs); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and checks a configuration, applying defaults. Its errors
// are those of Load, without a file name.
func Parse(b []byte) (*Config, error) {
	c, _, err := parse(b, "")
	return c, err
}

// parse decodes and checks b, read from file, and returns the
// configuration with the line of each field. The lines are kept apart
// from Config so that configurations compare equal by content.
func parse(b []byte, file string) (*Config, positions, error) {
	fail := func(line int, field, format string, args ...any) (*Config, positions, error) {
		return nil, nil, &FieldError{File: file, Line: line, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(0, "", "config is empty: it needs at least a tas: list")
		}
		e := syntaxError(b, err)
		e.File = file
		return nil, nil, e
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fail(extra.Line, "", "config holds more than one YAML document: want exactly one")
	}
	if len(doc.Content) == 0 {
		return fail(0, "", "config is empty: it needs at least a tas: list")
	}
	var c Config
	d := &decoder{pos: positions{}}
	d.decode(doc.Content[0], reflect.ValueOf(&c).Elem(), "")
	// Checking the meaning of a half-decoded file would only repeat its
	// decoding errors (a bad uuid would also be a missing one).
	if err := located(file, d.errs); err != nil {
		return nil, nil, err
	}
	c.applyDefaults()
	if err := located(file, c.validate(d.pos)); err != nil {
		return nil, nil, err
	}
	return &c, d.pos, nil
}

func (c *Config) applyDefaults() {
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if c.TEE == "" {
		c.TEE = DefaultTEE
	}
	for i := range c.TAs {
		t := &c.TAs[i]
		if t.Restart == "" {
			t.Restart = restart.OnFailure.String()
		}
		if t.Mailbox == 0 {
			t.Mailbox = DefaultMailbox
		}
		if t.Limits.Descriptors == 0 {
			t.Limits.Descriptors = DefaultDescriptors
		}
		if t.Limits.Nodes == 0 {
			t.Limits.Nodes = DefaultNodes
		}
		if t.OnRestart == "" {
			t.OnRestart = restart.Keep.String()
		}
		if t.User == "" {
			t.User = DefaultUser
		}
		if t.Group == "" {
			t.Group = DefaultGroup
		}
		if t.Netns == nil {
			on := true
			t.Netns = &on
		}
		for j := range t.Endpoints {
			e := &t.Endpoints[j]
			if !e.Mode.set {
				e.Mode = Mode{Perm: 0o600, set: true}
			}
			if e.Owner == "" {
				e.Owner = "0"
			}
			if e.Group == "" {
				e.Group = "0"
			}
		}
	}
}

var taName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate checks the whole configuration and reports every problem found,
// each as a *FieldError naming the field and saying what is wrong and what
// is allowed. (Load and Parse report the line too: they know it.)
func (c *Config) Validate() error { return located("", c.validate(nil)) }

// validate is Validate with the fields' lines, when known.
func (c *Config) validate(pos positions) []*FieldError {
	var errs []*FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Line: pos.line(field), Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if !strings.HasPrefix(c.Mount, "/") {
		bad("mount", "%q is not an absolute path: want one such as %s", c.Mount, DefaultMount)
	}
	tee, ok := teekind.Parse(c.TEE)
	if !ok {
		bad("tee", "%q: want sim, auto or a device such as /dev/tee0", c.TEE)
	}
	sim := ok && tee == teekind.Sim
	if len(c.TAs) == 0 {
		bad("tas", "no TAs: list at least one")
	}
	names := map[string]int{}
	uuids := map[gp.UUID]int{}
	listens := map[string]string{} // proxy listen address → the field that has it
	for i, t := range c.TAs {
		f := fmt.Sprintf("tas[%d]", i)
		if !taName.MatchString(t.Name) {
			bad(f+".name", "%q: want 1-32 of a-z, 0-9, '-', '_', starting with a letter or digit", t.Name)
		} else if j, dup := names[t.Name]; dup {
			bad(f+".name", "%q is also the name of tas[%d]: want a name of its own", t.Name, j)
		}
		names[t.Name] = i
		if t.UUID == (gp.UUID{}) {
			bad(f+".uuid", "missing: every TA needs its UUID, such as 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
		} else if j, dup := uuids[t.UUID]; dup {
			bad(f+".uuid", "%v is also the UUID of tas[%d]: want a UUID of its own", t.UUID, j)
		}
		uuids[t.UUID] = i
		kind, _ := t.Source()
		n := 0
		for _, v := range []string{t.Builtin, t.Wasm, t.Native} {
			if v != "" {
				n++
			}
		}
		switch {
		case sim && n == 0:
			bad(f, "says nothing of what the TA is: give builtin (for example echo), wasm (a .wasm file) or native (a host-built TA program)")
		case sim && n > 1:
			bad(f, "gives more than one of builtin, wasm and native: want exactly one")
		case !sim && n > 0:
			bad(f+"."+kind, "TAs from builtin, wasm or native run only in the simulator (tee: sim); on a device the TA is the one installed for its UUID")
		case kind == "wasm" && !strings.HasSuffix(t.Wasm, ".wasm"):
			bad(f+".wasm", "%q: want a .wasm file", t.Wasm)
		}
		if len(t.Listen) > 0 && kind != "wasm" {
			bad(f+".listen", "only wasm TAs get preopened sockets: leave it out, other TAs create their own")
		}
		for j, l := range t.Listen {
			if _, err := netaddr.Parse(l); err != nil {
				bad(fmt.Sprintf("%s.listen[%d]", f, j), "%v", err)
			}
		}
		if _, ok := restart.ParsePolicy(t.Restart); !ok {
			bad(f+".restart", "%q: want always, on-failure or never", t.Restart)
		}
		if t.Mailbox < MinMailbox || t.Mailbox > MaxMailbox {
			bad(f+".mailbox", "%d bytes: want %d to %d", t.Mailbox, MinMailbox, MaxMailbox)
		}
		if t.Limits.Descriptors < 1 || t.Limits.Descriptors > MaxDescriptors {
			bad(f+".limits.descriptors", "%d: want 1 to %d", t.Limits.Descriptors, MaxDescriptors)
		}
		if s := t.Limits.Sockets; s < 0 || (s > 0 && s > t.Limits.Descriptors) { // 0 is the default, whatever descriptors says
			bad(f+".limits.sockets", "%d: want 0 (as many as descriptors) to limits.descriptors (%d)", t.Limits.Sockets, t.Limits.Descriptors)
		}
		if need := endpointNodes(t.Endpoints); t.Limits.Nodes < max(need, 1) || t.Limits.Nodes > MaxNodes {
			bad(f+".limits.nodes", "%d: want %d (the declared endpoints and their directories) to %d", t.Limits.Nodes, max(need, 1), MaxNodes)
		}
		if t.Limits.WasmMemory != 0 && (t.Limits.WasmMemory < MinWasmMemory || t.Limits.WasmMemory > MaxWasmMemory) {
			bad(f+".limits.wasm_memory", "%d bytes: want 0 (the default, 256 MiB) or %d to %d", t.Limits.WasmMemory, MinWasmMemory, int64(MaxWasmMemory))
		} else if t.Limits.WasmMemory != 0 && t.Wasm == "" {
			bad(f+".limits.wasm_memory", "set, but the TA is not a wasm module: leave it out")
		}
		if _, ok := restart.ParseTree(t.OnRestart); !ok {
			bad(f+".on_restart", "%q: want keep or clear", t.OnRestart)
		}
		if t.Limits.Memory != 0 && t.Limits.Memory < MinMemory {
			bad(f+".limits.memory", "%d bytes: want 0 (no limit) or at least %d", t.Limits.Memory, MinMemory)
		}
		if _, err := LookupUser(t.User); err != nil {
			bad(f+".user", "%v: want a user name or number", err)
		}
		if _, err := LookupGroup(t.Group); err != nil {
			bad(f+".group", "%v: want a group name or number", err)
		}
		if t.HostAccess.Any() && !t.NetnsEnabled() {
			bad(f+".host_access", "needs netns: true (a TA without a namespace of its own reaches the host's services anyway)")
		}
		for j, a := range t.HostAccess.Addrs {
			if na, err := netaddr.Parse(a); err != nil || na.Network == "unix" {
				bad(fmt.Sprintf("%s.host_access[%d]", f, j), "%q: want tcp://IP:PORT or udp://IP:PORT", a)
			}
		}
		c.validateProxies(f, t, listens, bad)
		seen := map[string]bool{}
		for j, e := range t.Endpoints {
			ef := fmt.Sprintf("%s.endpoints[%d]", f, j)
			clean := path.Clean(e.Name)
			switch {
			case e.Name == "" || path.IsAbs(e.Name) || clean != e.Name || clean == "." || strings.HasPrefix(clean, "../") || clean == "..":
				bad(ef+".name", "%q: want a relative path inside the TA's directory, such as in or sub/x", e.Name)
			case strings.HasPrefix(clean, ".tz/") || clean == ".tz":
				bad(ef+".name", "%q: .tz is reserved for the status view: want another name", e.Name)
			case seen[clean]:
				bad(ef+".name", "%q is declared twice: want each endpoint once", e.Name)
			}
			seen[clean] = true
			if e.Kind != "fifo" && e.Kind != "unix" {
				bad(ef+".kind", "%q: want fifo or unix", e.Kind)
			}
			switch {
			case e.Mode.Perm&^0o777 != 0:
				bad(ef+".mode", "%#o: want permission bits only (1 to 0777)", e.Mode.Perm)
			case e.Mode.Perm == 0:
				// The tree creates a zero mode as its default, 0600;
				// and a real 0000 node no CA nor the shadow could
				// open. Refused rather than silently changed.
				bad(ef+".mode", "0000: nobody but root could open the endpoint: want at least one permission bit (1 to 0777), e.g. \"0600\"")
			}
			if _, err := LookupUser(e.Owner); err != nil {
				bad(ef+".owner", "%v: want a user name or number", err)
			}
			if _, err := LookupGroup(e.Group); err != nil {
				bad(ef+".group", "%v: want a group name or number", err)
			}
		}
	}
	if c.SimThreads < 0 || c.SimThreads > MaxSimThreads {
		bad("sim_threads", "%d: want 0 (automatic) or 1 to %d", c.SimThreads, MaxSimThreads)
	}
	if c.Metrics != "" {
		if ap, err := netip.ParseAddrPort(c.Metrics); err != nil || ap.Port() == 0 {
			bad("metrics", "%q: want IP:PORT with a port, e.g. 127.0.0.1:9464 (0.0.0.0:9464 for every address)", c.Metrics)
		} else if other, dup := listens["tcp "+c.Metrics]; dup {
			bad("metrics", "%s is also the listen address of %s: want an address of its own", c.Metrics, other)
		}
	}
	return errs
}

// validateProxies checks a TA's proxies; listens collects the listen
// addresses of all TAs, which must differ.
func (c *Config) validateProxies(f string, t TA, listens map[string]string, bad func(field, format string, args ...any)) {
	tos := map[string]bool{}
	for j, p := range t.Proxies {
		pf := fmt.Sprintf("%s.proxies[%d]", f, j)
		l, lerr := netaddr.Parse(p.Listen)
		if lerr != nil {
			bad(pf+".listen", "%v", lerr)
		}
		to, terr := netaddr.Parse(p.To)
		if terr != nil {
			bad(pf+".to", "%v", terr)
		}
		if lerr != nil || terr != nil {
			continue
		}
		ln, laddr, tn, taddr := l.Network, l.Addr, to.Network, to.Addr
		if ln != tn {
			bad(pf, "listen is %s but to is %s: want the same kind of socket at both ends", ln, tn)
			continue
		}
		if ln != "unix" && netip.MustParseAddrPort(laddr).Addr().Unmap().Is4() != netip.MustParseAddrPort(taddr).Addr().Unmap().Is4() {
			bad(pf, "listen %s and to %s: want the same IP family", p.Listen, p.To)
		}
		if ln == "unix" && (laddr == c.Mount || strings.HasPrefix(laddr, strings.TrimSuffix(c.Mount, "/")+"/")) {
			bad(pf+".listen", "%q: want a host path outside the mount %s", p.Listen, c.Mount)
		}
		key := ln + " " + laddr
		if other, dup := listens[key]; dup {
			bad(pf+".listen", "%s is also the listen address of %s: want an address of its own", p.Listen, other)
		}
		listens[key] = pf
		if tos[tn+" "+taddr] {
			bad(pf+".to", "%s is the target of two proxies: want one proxy per TA address", p.To)
		}
		tos[tn+" "+taddr] = true
	}
}

// endpointNodes counts the nodes a TA's declared endpoints put in its
// directory once all exist: each endpoint and each directory above one.
func endpointNodes(eps []Endpoint) int {
	nodes := map[string]bool{}
	for _, e := range eps {
		for p := path.Clean(e.Name); p != "." && p != "/" && p != ""; p = path.Dir(p) {
			nodes[p] = true
		}
	}
	return len(nodes)
}
