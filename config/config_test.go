package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/internal/restart"
	"github.com/tzmediator/tzbridge/internal/teekind"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mount != DefaultMount || c.TEE != DefaultTEE {
		t.Errorf("mount %q tee %q, want defaults", c.Mount, c.TEE)
	}
	if c.Metrics != "" {
		t.Errorf("metrics %q, want none by default", c.Metrics)
	}
	if c.SimThreads != 0 {
		t.Errorf("sim_threads %d, want 0 (automatic) by default", c.SimThreads)
	}
	ta := c.TAs[0]
	if ta.Restart != "on-failure" || ta.Mailbox != DefaultMailbox || ta.Limits.Descriptors != DefaultDescriptors || ta.Limits.Nodes != DefaultNodes {
		t.Errorf("TA defaults not applied: %+v", ta)
	}
}

func TestParseErrors(t *testing.T) {
	const ok = "  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "config is empty"},
		{"unknown top field", "mnt: /x\ntas:\n" + ok, "line 1: mnt: unknown field: allowed here are mount, tee, metrics, sim_threads, tas"},
		{"unknown TA field", "tas:\n" + ok + "    colour: red\n", "line 5: tas[0].colour: unknown field: allowed in tas[0] are name, uuid,"},
		{"relative mount", "mount: tz\ntas:\n" + ok, `mount: "tz" is not an absolute path`},
		{"bad tee", "tee: optee\ntas:\n" + ok, `tee: "optee": want sim, auto`},
		{"no TAs", "mount: /tz\n", "tas: no TAs"},
		{"bad name", "tas:\n  - name: Echo!\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", `line 2: tas[0].name: "Echo!": want 1-32`},
		{"bad uuid", "tas:\n  - name: e\n    uuid: nope\n    builtin: echo\n", `bad UUID "nope"`},
		{"missing uuid", "tas:\n  - name: e\n    builtin: echo\n", "line 2: tas[0].uuid: missing"},
		{"duplicate name", "tas:\n" + ok + "  - name: echo\n    uuid: 1e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", `"echo" is also the name of tas[0]`},
		{"duplicate uuid", "tas:\n" + ok + "  - name: two\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", "is also the UUID of tas[0]"},
		{"missing source", "tas:\n  - name: e\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n", "says nothing of what the TA is"},
		{"two sources", "tas:\n" + ok + "    wasm: x.wasm\n", "more than one of builtin, wasm and native: want exactly one"},
		{"wasm not .wasm", "tas:\n  - name: e\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    wasm: x.bin\n", `"x.bin": want a .wasm file`},
		{"builtin on a device", "tee: /dev/tee0\ntas:\n" + ok, "run only in the simulator"},
		{"bad restart", "tas:\n" + ok + "    restart: sometimes\n", `restart: "sometimes": want always`},
		{"small mailbox", "tas:\n" + ok + "    mailbox: 100\n", "mailbox: 100 bytes"},
		{"negative limit", "tas:\n" + ok + "    limits:\n      descriptors: -1\n", "limits.descriptors: -1"},
		{"endpoint escapes", "tas:\n" + ok + "    endpoints:\n      - {name: ../x, kind: fifo}\n", `endpoints[0].name: "../x": want a relative path`},
		{"endpoint absolute", "tas:\n" + ok + "    endpoints:\n      - {name: /in, kind: fifo}\n", `endpoints[0].name: "/in"`},
		{"endpoint in .tz", "tas:\n" + ok + "    endpoints:\n      - {name: .tz/x, kind: fifo}\n", ".tz is reserved"},
		{"endpoint twice", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo}\n      - {name: in, kind: unix}\n", `"in" is declared twice`},
		{"endpoint kind", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: file}\n", `kind: "file": want fifo or unix`},
		{"endpoint mode", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo, mode: \"4755\"}\n", "want permission bits only"},
		{"endpoint mode zero", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo, mode: \"0000\"}\n", "endpoints[0].mode: 0000: nobody but root"},
		{"endpoint mode syntax", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo, mode: rw}\n", `endpoints[0].mode: "rw": want an octal mode`},
		{"endpoint owner", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo, owner: nosuchuser}\n", `unknown user "nosuchuser"`},
		{"endpoint group", "tas:\n" + ok + "    endpoints:\n      - {name: in, kind: fifo, group: nosuchgroup}\n", `unknown group "nosuchgroup"`},
		{"on_restart", "tas:\n" + ok + "    on_restart: wipe\n", `on_restart: "wipe": want keep or clear`},
		{"metrics without a port", "metrics: 127.0.0.1\ntas:\n" + ok, `metrics: "127.0.0.1": want IP:PORT`},
		{"metrics port 0", "metrics: 127.0.0.1:0\ntas:\n" + ok, `metrics: "127.0.0.1:0": want IP:PORT`},
		{"metrics host name", "metrics: localhost:9464\ntas:\n" + ok, `metrics: "localhost:9464": want IP:PORT`},
		{"metrics URL", "metrics: http://127.0.0.1:9464/metrics\ntas:\n" + ok, `metrics: "http://127.0.0.1:9464/metrics": want IP:PORT`},
		{"metrics on a proxy", "metrics: 127.0.0.1:7000\ntas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:7000, to: tcp://127.0.0.1:7000}\n", "line 1: metrics: 127.0.0.1:7000 is also the listen address of tas[0].proxies[0]: want an address of its own"},
		{"listen on builtin", "tas:\n" + ok + "    listen: [tcp://127.0.0.1:7100]\n", "only wasm TAs get preopened sockets"},
		{"listen no port", "tas:\n  - name: w\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    wasm: w.wasm\n    listen: [tcp://127.0.0.1]\n", "listen[0]: \"tcp://127.0.0.1\": want tcp://IP:PORT"},
		{"listen scheme", "tas:\n  - name: w\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    wasm: w.wasm\n    listen: [sctp://1.2.3.4:5]\n", "want tcp://IP:PORT, udp://IP:PORT or unix:/PATH"},
		{"listen unix relative", "tas:\n  - name: w\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    wasm: w.wasm\n    listen: [unix:a/../b]\n", "want unix:/name.sock"},
		{"two documents", "tas:\n" + ok + "---\ntas: []\n", "more than one YAML document"},
		{"unknown user", "tas:\n" + ok + "    user: nosuchuser\n", `user: unknown user "nosuchuser"`},
		{"unknown group", "tas:\n" + ok + "    group: nosuchgroup\n", `group: unknown group "nosuchgroup"`},
		{"small memory", "tas:\n" + ok + "    limits:\n      memory: 1000\n", "limits.memory: 1000 bytes"},
		{"sim threads negative", "sim_threads: -1\ntas:\n" + ok, "sim_threads: -1: want 0 (automatic) or 1 to 1024"},
		{"sim threads too many", "sim_threads: 1025\ntas:\n" + ok, "sim_threads: 1025: want 0 (automatic) or 1 to 1024"},
		{"sockets over descriptors", "tas:\n" + ok + "    limits:\n      descriptors: 8\n      sockets: 9\n", "limits.sockets: 9: want 0 (as many as descriptors) to limits.descriptors (8)"},
		{"negative sockets", "tas:\n" + ok + "    limits:\n      sockets: -1\n", "limits.sockets: -1"},
		{"negative nodes", "tas:\n" + ok + "    limits:\n      nodes: -1\n", "limits.nodes: -1: want 1 (the declared endpoints and their directories) to 65536"},
		{"too many nodes", "tas:\n" + ok + "    limits:\n      nodes: 65537\n", "limits.nodes: 65537: want 1"},
		{"nodes below the endpoints", "tas:\n" + ok + "    limits:\n      nodes: 3\n    endpoints:\n      - {name: a/in, kind: fifo}\n      - {name: a/out, kind: fifo}\n      - {name: b/s, kind: unix}\n",
			"limits.nodes: 3: want 5 (the declared endpoints and their directories) to 65536"},
		{"wasm memory on a builtin", "tas:\n" + ok + "    limits:\n      wasm_memory: 1048576\n", "limits.wasm_memory: set, but the TA is not a wasm module"},
		{"wasm memory too large", "tas:\n" + ok + "    limits:\n      wasm_memory: 8589934592\n", "limits.wasm_memory: 8589934592 bytes: want 0"},
		{"netns not a bool", "tas:\n" + ok + "    netns: maybe\n", `line 5: tas[0].netns: "maybe": want true or false`},
		{"host_access without netns", "tas:\n" + ok + "    netns: false\n    host_access: true\n", "host_access: needs netns: true"},
		{"host_access unix", "tas:\n" + ok + "    host_access: [unix:/x]\n", `host_access[0]: "unix:/x"`},
		{"host_access no port", "tas:\n" + ok + "    host_access: [tcp://127.0.0.1]\n", `host_access[0]: "tcp://127.0.0.1"`},
		{"host_access map", "tas:\n" + ok + "    host_access: {all: true}\n", "host_access: want true, false or a list"},
		{"proxy bad listen", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://x:1, to: tcp://127.0.0.1:1}\n", "proxies[0].listen"},
		{"proxy bad to", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:1, to: sctp://127.0.0.1:1}\n", "proxies[0].to"},
		{"proxy networks differ", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:1, to: udp://127.0.0.1:1}\n", "listen is tcp but to is udp"},
		{"proxy families differ", "tas:\n" + ok + "    proxies:\n      - {listen: \"tcp://[::1]:1\", to: tcp://127.0.0.1:1}\n", "want the same IP family"},
		{"proxy unix in mount", "tas:\n" + ok + "    proxies:\n      - {listen: unix:/tz/x.sock, to: unix:/echo.sock}\n", "want a host path outside the mount"},
		{"proxy listen twice", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:1, to: tcp://127.0.0.1:1}\n" +
			"  - name: two\n    uuid: 1e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n    proxies:\n      - {listen: tcp://127.0.0.1:1, to: tcp://127.0.0.1:2}\n",
			"line 11: tas[1].proxies[0].listen: tcp://127.0.0.1:1 is also the listen address of tas[0].proxies[0]"},
		{"proxy to twice", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:1, to: tcp://127.0.0.1:3}\n      - {listen: tcp://127.0.0.1:2, to: tcp://127.0.0.1:3}\n", "is the target of two proxies"},
		{"proxy unknown field", "tas:\n" + ok + "    proxies:\n      - {listen: tcp://127.0.0.1:1, target: tcp://127.0.0.1:3}\n", "line 6: tas[0].proxies[0].target: unknown field: allowed in tas[0].proxies[0] are listen, to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestTEEKind: tee: reaches the supervisor typed, the default as the
// zero value.
func TestTEEKind(t *testing.T) {
	const ta = "tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n"
	tests := []struct {
		yaml string
		want teekind.Kind
	}{
		{ta + "    builtin: echo\n", teekind.Sim},
		{"tee: sim\n" + ta + "    builtin: echo\n", teekind.Sim},
		{"tee: auto\n" + ta, teekind.Auto},
		{"tee: /dev/tee0\n" + ta, teekind.Device},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if got := c.TEEKind(); got != tt.want {
			t.Errorf("%q: TEEKind %v, want %v", tt.yaml, got, tt.want)
		}
	}
}

// TestRestartTyped: restart and on_restart reach the supervisor typed,
// the defaults as the zero values.
func TestRestartTyped(t *testing.T) {
	const ta = "tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	tests := []struct {
		extra  string
		policy restart.Policy
		tree   restart.Tree
	}{
		{"", restart.OnFailure, restart.Keep},
		{"    restart: always\n    on_restart: clear\n", restart.Always, restart.Clear},
		{"    restart: never\n    on_restart: keep\n", restart.Never, restart.Keep},
		{"    restart: on-failure\n", restart.OnFailure, restart.Keep},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(ta + tt.extra))
		if err != nil {
			t.Fatalf("%q: %v", tt.extra, err)
		}
		if p, tr := c.TAs[0].RestartPolicy(), c.TAs[0].OnRestartTree(); p != tt.policy || tr != tt.tree {
			t.Errorf("%q: restart %v, on_restart %v; want %v, %v", tt.extra, p, tr, tt.policy, tt.tree)
		}
	}
}

func TestEndpointDefaults(t *testing.T) {
	c, err := Parse([]byte("tas:\n  - name: e\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n    endpoints:\n      - {name: in, kind: fifo}\n      - {name: s, kind: unix, mode: \"0666\", owner: nobody, group: \"65534\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.TAs[0].Endpoints
	if e[0].Mode.Perm != 0o600 || e[0].Owner != "0" || e[0].Group != "0" {
		t.Errorf("defaults not applied: %+v", e[0])
	}
	if e[1].Mode.Perm != 0o666 {
		t.Errorf("mode %#o, want 0666", e[1].Mode.Perm)
	}
	if uid, err := LookupUser(e[1].Owner); err != nil || uid != 65534 {
		t.Errorf("owner nobody: uid %d, %v", uid, err)
	}
	if c.TAs[0].OnRestart != "keep" {
		t.Errorf("on_restart default %q", c.TAs[0].OnRestart)
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("tee: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("error %v does not start with the file name", err)
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	f.Add([]byte("mount: /tz\ntee: sim\ntas: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("Parse accepted a config Validate rejects: %v", err)
			}
		}
	})
}

func TestNetnsDefaults(t *testing.T) {
	const ta = "  - name: e\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	tests := []struct {
		name, extra        string
		netns, publish     bool
		hostAll            bool
		hostAddrs, proxies int
		user, group        string
	}{
		{"defaults", "", true, true, false, 0, 0, "root", "root"},
		{"host namespace", "    netns: false\n", false, false, false, 0, 0, "root", "root"},
		{"no proxies", "    proxies: []\n", true, false, false, 0, 0, "root", "root"},
		{"proxies", "    proxies:\n      - {listen: tcp://127.0.0.1:7000, to: tcp://127.0.0.1:7000}\n      - {listen: unix:/run/e.sock, to: unix:/echo.sock}\n", true, false, false, 0, 2, "root", "root"},
		{"host access all", "    host_access: true\n", true, true, true, 0, 0, "root", "root"},
		{"host access none", "    host_access: false\n", true, true, false, 0, 0, "root", "root"},
		{"host access list", "    host_access: [tcp://127.0.0.1:5432, \"udp://[::1]:53\"]\n", true, true, false, 2, 0, "root", "root"},
		{"user", "    user: nobody\n    group: \"65534\"\n", true, true, false, 0, 0, "nobody", "65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte("tas:\n" + ta + tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			got := c.TAs[0]
			if got.NetnsEnabled() != tt.netns || got.Netns == nil {
				t.Errorf("netns %v (%v), want %v", got.NetnsEnabled(), got.Netns, tt.netns)
			}
			if publish := got.NetnsEnabled() && got.Proxies == nil; publish != tt.publish {
				t.Errorf("publish %v, want %v", publish, tt.publish)
			}
			if got.HostAccess.All != tt.hostAll || len(got.HostAccess.Addrs) != tt.hostAddrs {
				t.Errorf("host access %+v", got.HostAccess)
			}
			if len(got.Proxies) != tt.proxies {
				t.Errorf("%d proxies, want %d", len(got.Proxies), tt.proxies)
			}
			if got.User != tt.user || got.Group != tt.group {
				t.Errorf("user %q group %q, want %q %q", got.User, got.Group, tt.user, tt.group)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	const ta = "tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	for _, addr := range []string{"127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", "127.0.0.1:7001"} {
		// A UDP proxy may share the metrics endpoint's address and port.
		c, err := Parse([]byte(fmt.Sprintf("metrics: %q\n", addr) + ta + "    proxies:\n      - {listen: udp://127.0.0.1:7001, to: udp://127.0.0.1:7001}\n"))
		if err != nil {
			t.Errorf("metrics: %s: %v", addr, err)
			continue
		}
		if c.Metrics != addr {
			t.Errorf("metrics: %s parsed as %q", addr, c.Metrics)
		}
	}
}
