// Package child starts the processes tzbridge runs under itself (the
// simulated secure world, the shadows, native TAs, the benchmark's
// bridge) so that none of them outlives it, not even after kill -9.
//
// That is PR_SET_PDEATHSIG, with a catch: the signal fires when the
// *thread* that forked the child exits, not the process, and the Go
// runtime ends threads (a goroutine that exits while locked to its thread
// takes the thread with it). So Start forks on a thread locked for the
// child's whole life.
package child

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// Process is a started child.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd with Pdeathsig SIGKILL (added to cmd.SysProcAttr) and
// waits for it in the background. prepare, if not nil, runs on the forking
// thread first, to change what only a thread can (enter a network
// namespace, drop capabilities); that thread then ends with the child and
// never serves other goroutines.
func Start(cmd *exec.Cmd, prepare func() error) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if prepare == nil {
			defer runtime.UnlockOSThread()
		} else if err := prepare(); err != nil {
			started <- err
			return
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

// Done is closed once the child has exited and been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child ended (exec.Cmd.Wait's error); read it after Done.
func (p *Process) Err() error { return p.err }

// Pid is the child's process ID.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }
