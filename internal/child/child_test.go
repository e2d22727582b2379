package child

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStartAndWait(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		prepare func() error
		wantErr string // from Start
		exitErr bool   // from Err
	}{
		{name: "exits 0", args: []string{"true"}},
		{name: "exits 1", args: []string{"false"}, exitErr: true},
		{name: "prepared thread", args: []string{"true"}, prepare: func() error { return nil }},
		{name: "prepare fails", args: []string{"true"}, prepare: func() error { return errors.New("no namespace") }, wantErr: "no namespace"},
		{name: "no such program", args: []string{"/nonexistent/prog"}, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(tt.args[0], tt.args[1:]...)
			p, err := Start(cmd, tt.prepare)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmd.SysProcAttr.Pdeathsig == 0 {
				t.Error("no Pdeathsig set")
			}
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("child not waited for")
			}
			if (p.Err() != nil) != tt.exitErr {
				t.Errorf("Err() = %v", p.Err())
			}
		})
	}
}

// TestPdeathsigOutlivesTheStartingGoroutine: the child is killed only when
// tzbridge dies, not when the goroutine that started it moves on; a
// sleeping child is still alive after the runtime had every chance to
// retire threads.
func TestPdeathsigOutlivesTheStartingGoroutine(t *testing.T) {
	p, err := Start(exec.Command("sleep", "30"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Cmd.Process.Kill(); <-p.Done() }()
	for range 50 {
		done := make(chan struct{})
		go func() { runtime.LockOSThread(); close(done) }() // exits locked: its thread ends
		<-done
		runtime.GC()
	}
	select {
	case <-p.Done():
		t.Fatalf("child died with a thread of its parent: %v", p.Err())
	case <-time.After(200 * time.Millisecond):
	}
}
