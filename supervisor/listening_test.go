package supervisor

import "testing"

func TestListenWait(t *testing.T) {
	done := func(w *listenWait) bool {
		select {
		case <-w.done:
			return true
		default:
			return false
		}
	}
	tests := []struct {
		name    string
		listen  []string
		serving []string // as the shadow reports them
		giveUp  bool
		want    bool
	}{
		{"nothing to wait for", nil, nil, false, true},
		{"all served", []string{"tcp://127.0.0.1:7100", "unix:/echo.sock", "udp://[::1]:7101"},
			[]string{"unix:/echo.sock", "udp://[::1]:7101", "tcp://127.0.0.1:7100"}, false, true},
		{"one missing", []string{"tcp://127.0.0.1:7100", "unix:/echo.sock"}, []string{"tcp://127.0.0.1:7100"}, false, false},
		{"others do not count", []string{"tcp://127.0.0.1:7100"}, []string{"tcp://127.0.0.1:7101", "udp://127.0.0.1:7100", "unix:/x"}, false, false},
		{"served twice", []string{"tcp://127.0.0.1:7100"}, []string{"tcp://127.0.0.1:7100", "tcp://127.0.0.1:7100"}, false, true},
		{"the TA ended", []string{"tcp://127.0.0.1:7100"}, nil, true, true},
		{"ended after serving", []string{"tcp://127.0.0.1:7100"}, []string{"tcp://127.0.0.1:7100"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newListenWait(tt.listen)
			for _, a := range tt.serving {
				w.serving(a)
			}
			if tt.giveUp {
				w.giveUp()
			}
			if got := done(w); got != tt.want {
				t.Errorf("done %v, want %v", got, tt.want)
			}
		})
	}
}
