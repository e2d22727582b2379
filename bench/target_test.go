package bench

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/config"
)

// cechoConfig is the C example TA on a device: FIFO and TCP 7200 only.
const cechoConfig = `tee: /dev/tee0
tas:
  - name: cecho
    uuid: 8aaaf200-2450-11e4-abe2-0002a5d5c51b
    netns: true
    proxies:
      - {listen: tcp://127.0.0.1:7200, to: tcp://127.0.0.1:7200}
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
`

// twoTAs has two TAs, one served on a TCP proxy on another address
// (which the client, dialling 127.0.0.1, cannot use) and a UNIX socket.
const twoTAs = `tee: sim
tas:
  - name: first
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f61
    builtin: echo
    netns: true
    proxies:
      - {listen: tcp://127.0.0.2:7300, to: tcp://127.0.0.1:7000}
      - {listen: udp://127.0.0.1:7301, to: udp://127.0.0.1:7001}
    endpoints:
      - {name: s.sock, kind: unix}
      - {name: in, kind: fifo}
  - name: second
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f62
    builtin: echo
`

func TestResolveTarget(t *testing.T) {
	for _, tc := range []struct {
		name, config, ta string
		want             target
		wantErr          string
	}{
		{"demo", DefaultConfig, "", target{Name: "echo", SecureWorld: "sim", Serves: []string{FIFO, Unix, TCP, UDP},
			FIFOIn: "in", FIFOOut: "out", Unix: "echo.sock", TCPPort: 7000, UDPPort: 7001}, ""},
		{"demo by name", DefaultConfig, "echo", target{Name: "echo", SecureWorld: "sim", Serves: []string{FIFO, Unix, TCP, UDP},
			FIFOIn: "in", FIFOOut: "out", Unix: "echo.sock", TCPPort: 7000, UDPPort: 7001}, ""},
		{"device C example", cechoConfig, "cecho", target{Name: "cecho", SecureWorld: "/dev/tee0", Serves: []string{FIFO, TCP},
			FIFOIn: "in", FIFOOut: "out", TCPPort: 7200}, ""},
		{"half a FIFO pair, proxy off 127.0.0.1", twoTAs, "first", target{Name: "first", SecureWorld: "sim", Serves: []string{Unix, UDP},
			Unix: "s.sock", UDPPort: 7301}, ""},
		{"serves nothing", twoTAs, "second", target{Name: "second", SecureWorld: "sim"}, ""},
		{"two TAs, none named", twoTAs, "", target{}, "name the one to measure with --ta"},
		{"unknown TA", DefaultConfig, "nope", target{}, `no TA "nope"`},
		{"bad config", "tas: 3", "", target{}, "bench configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveTarget(tc.config, tc.ta)
			if errCase(t, err, tc.wantErr) {
				return
			}
			// The TA's configuration rides along for the null call: the
			// named one, and the table compares the rest.
			if got.TA.Name != tc.want.Name {
				t.Errorf("resolveTarget's TA configuration is %q's, want %q's", got.TA.Name, tc.want.Name)
			}
			got.TA = config.TA{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("resolveTarget =\n%+v, want\n%+v", got, tc.want)
			}
		})
	}
}

// errCase checks a table case's err: where want is not "" the case wants
// an error containing want, and is done (true); otherwise it wants none.
func errCase(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want one containing %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// TestOptionsTransports: without --transports a run measures what the TA
// serves, and asking for one it does not serve fails before anything
// starts.
func TestOptionsTransports(t *testing.T) {
	for _, tc := range []struct {
		name, config, ta string
		asked            []string
		want             []string
		wantErr          string
	}{
		{"demo, all", "", "", nil, Transports, ""},
		{"device, what it serves", cechoConfig, "", nil, []string{FIFO, TCP}, ""},
		{"device, asked subset", cechoConfig, "cecho", []string{TCP}, []string{TCP}, ""},
		{"none", cechoConfig, "", []string{}, []string{}, ""},
		{"not served", cechoConfig, "", []string{UDP}, nil, "TA cecho does not serve udp"},
		{"unknown", "", "", []string{"sctp"}, nil, `unknown transport "sctp"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Exe: "/bin/true", Config: tc.config, TA: tc.ta, Transports: tc.asked}
			err := o.setDefaults()
			if errCase(t, err, tc.wantErr) {
				return
			}
			if !reflect.DeepEqual(o.Transports, tc.want) {
				t.Errorf("Transports = %v, want %v", o.Transports, tc.want)
			}
		})
	}
}

func TestTargetEndpoints(t *testing.T) {
	tg := target{Name: "cecho", FIFOIn: "in", FIFOOut: "out", TCPPort: 7200}
	want := Endpoints{FIFOIn: "/m/cecho/in", FIFOOut: "/m/cecho/out", TCPPort: 7200}
	if got := tg.endpoints("/m"); got != want {
		t.Errorf("endpoints = %+v, want %+v", got, want)
	}
}

// TestNullCallSecureWorld: the null call opens the configured secure
// world, not the simulator, whatever the tee.
func TestNullCallSecureWorld(t *testing.T) {
	cfg := strings.Replace(cechoConfig, "tee: /dev/tee0", "tee: /dev/tee99", 1)
	tg, err := resolveTarget(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNullCaller(t.Context(), "/bin/false", tg)
	if err == nil {
		n.close()
		t.Fatal("null call started without the configured device")
	}
	if !strings.Contains(err.Error(), "/dev/tee99") {
		t.Errorf("err = %v, want one naming /dev/tee99", err)
	}
}
