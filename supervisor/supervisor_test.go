package supervisor

import (
	"fmt"
	"log/slog"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/config"
)

func TestDecodeRecord(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
		level      slog.Level
		msg        string
		attrs      string
	}{
		{"full", `{"time":"2026-01-02T03:04:05.5Z","level":"WARN","msg":"m","ta":"echo","n":3,"err":"x"}`, true, slog.LevelWarn, "m", "ta=echo n=3 err=x"},
		{"debug, no time", `{"level":"DEBUG","msg":"d"}`, true, slog.LevelDebug, "d", ""},
		{"nested", `{"level":"INFO","msg":"n","g":{"a":1}}`, true, slog.LevelInfo, "n", "g=map[a:1]"},
		{"not json", `panic: boom`, false, 0, "", ""},
		{"not an object", `[1,2]`, false, 0, "", ""},
		{"cut short", `{"level":"INFO","msg":`, false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, ok := decodeRecord([]byte(tt.line))
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			attrs := ""
			rec.Attrs(func(a slog.Attr) bool {
				if attrs != "" {
					attrs += " "
				}
				attrs += fmt.Sprintf("%s=%v", a.Key, a.Value)
				return true
			})
			if rec.Level != tt.level || rec.Message != tt.msg || attrs != tt.attrs || rec.Time.IsZero() {
				t.Errorf("got level %v msg %q attrs %q time %v", rec.Level, rec.Message, attrs, rec.Time)
			}
		})
	}
}

func TestPrivileges(t *testing.T) {
	ep := func(name, owner, group string, mode uint32) config.Endpoint {
		return config.Endpoint{Name: name, Kind: "fifo", Owner: owner, Group: group, Mode: config.Mode{Perm: mode}}
	}
	tests := []struct {
		name      string
		user      string
		group     string
		ports     bool
		endpoints []config.Endpoint
		keep      []uintptr
	}{
		{"root, no endpoints", "root", "root", false, nil, nil},
		{"root, own endpoints", "root", "root", false, []config.Endpoint{ep("in", "0", "0", 0o600)}, nil},
		{"root, someone else's endpoint", "root", "root", false, []config.Endpoint{ep("in", "65534", "65534", 0o600)}, []uintptr{unix.CAP_DAC_OVERRIDE}},
		{"nobody, open to others", "nobody", "nogroup", false, []config.Endpoint{ep("in", "0", "0", 0o666)}, nil},
		{"nobody, by group", "nobody", "nogroup", false, []config.Endpoint{ep("in", "0", "65534", 0o660)}, nil},
		{"nobody, group read only", "nobody", "nogroup", false, []config.Endpoint{ep("in", "0", "65534", 0o640)}, []uintptr{unix.CAP_DAC_OVERRIDE}},
		{"nobody, in a subdirectory", "nobody", "nogroup", false, []config.Endpoint{ep("sub/in", "65534", "65534", 0o600)}, []uintptr{unix.CAP_DAC_OVERRIDE}},
		{"privileged ports", "root", "root", true, nil, []uintptr{unix.CAP_NET_BIND_SERVICE}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := config.TA{User: tt.user, Group: tt.group, PrivilegedPorts: tt.ports, Endpoints: tt.endpoints,
				Limits: config.Limits{Descriptors: 100}, Proxies: []config.Proxy{{}, {}}}
			p, err := privilegesFor(ta)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(p.keep) != fmt.Sprint(tt.keep) {
				t.Errorf("keeps %v, want %v", p.keep, tt.keep)
			}
			if p.limits[0].Resource != unix.RLIMIT_NOFILE || p.limits[0].Value != 100+descriptorHeadroom+2 {
				t.Errorf("limits %+v", p.limits)
			}
			attr := p.sysProcAttr()
			// Root too: no supplementary groups of the supervisor's.
			if c := attr.Credential; c == nil || c.Groups == nil || len(c.Groups) != 0 || attr.Pdeathsig == 0 || !attr.Setpgid {
				t.Errorf("SysProcAttr %+v", attr)
			}
		})
	}
}
