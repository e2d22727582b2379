package config

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	const base = `
mount: /tz
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
  - name: faulty
    uuid: 5f1e2d3c-4b5a-4697-8877-665544332211
    builtin: faulty
`
	names := func(tas []TA) []string {
		var n []string
		for _, t := range tas {
			n = append(n, t.Name)
		}
		return n
	}
	tests := []struct {
		name                            string
		new                             string
		added, removed, changed, global []string
	}{
		{name: "same", new: base},
		{name: "defaults spelled out", new: `
mount: /tz
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    restart: on-failure
  - name: faulty
    uuid: 5f1e2d3c-4b5a-4697-8877-665544332211
    builtin: faulty
`},
		{name: "add remove change", new: `
mount: /other
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    restart: never
  - name: echo2
    uuid: 1e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
`, added: []string{"echo2"}, removed: []string{"faulty"}, changed: []string{"echo"}, global: []string{"mount"}},
		{name: "empty lists spelled out", new: `
mount: /tz
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    host_access: []
    endpoints: []
  - name: faulty
    uuid: 5f1e2d3c-4b5a-4697-8877-665544332211
    builtin: faulty
`},
		{name: "proxies: [] publishes nothing", new: `
mount: /tz
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    proxies: []
  - name: faulty
    uuid: 5f1e2d3c-4b5a-4697-8877-665544332211
    builtin: faulty
`, changed: []string{"echo"}},
		{name: "metrics turned on", new: "metrics: 127.0.0.1:9464\n" + base, global: []string{"metrics"}},
		{name: "simulator threads", new: "sim_threads: 2\n" + base, global: []string{"sim_threads"}},
	}
	old, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.new))
			if err != nil {
				t.Fatal(err)
			}
			d := Compare(old, cfg)
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"added", names(d.Added), tt.added},
				{"removed", names(d.Removed), tt.removed},
				{"changed", names(d.Changed), tt.changed},
				{"global", d.Global, tt.global},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if d.Empty() != (tt.added == nil && tt.removed == nil && tt.changed == nil && tt.global == nil) {
				t.Errorf("Empty() = %v for %+v", d.Empty(), d)
			}
		})
	}
}
