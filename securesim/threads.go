package securesim

import (
	"context"
	"runtime"
	"sync"
)

// MaxThreads bounds the threads (GOMAXPROCS) the host gives itself and its
// TAs' programs.
const MaxThreads = 1024

// threads sets the process's GOMAXPROCS to base plus one for each program
// that holds a thread of its own (OwnThread).
//
// Why: the simulator runs its Go code on one thread by default, which makes
// every hand-off inside it a goroutine switch (several times cheaper than
// waking another thread). But a wasm TA's code, compiled by wazero, gives
// the thread up only when the Go scheduler preempts it, every 10 ms at
// best; a module that computes for long would then make every hand-off of
// every other TA wait that long. With a thread per running module the
// scheduler never has to take one away from a busy module to serve the
// others, and the kernel, not Go, shares the CPUs between them, as the
// normal world's scheduler does for OP-TEE threads that foreign interrupts
// suspend.
type threads struct {
	mu    sync.Mutex
	base  int
	extra int // programs holding a thread
	set   int // the GOMAXPROCS last set
}

func newThreads(base int) *threads {
	t := &threads{base: base}
	t.apply()
	return t
}

// add changes the number of programs holding a thread by d.
func (t *threads) add(d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.extra += d
	t.apply()
}

// apply sets GOMAXPROCS; t.mu is held (or t not yet shared). Changing it
// stops the world for a moment, so only when the value changes: once per
// session of a wasm TA, never per call.
func (t *threads) apply() {
	n := min(t.base+t.extra, MaxThreads)
	if n != t.set {
		runtime.GOMAXPROCS(n)
		t.set = n
	}
}

type threadsKey struct{}

// OwnThread gives the caller, a TA's program about to run code that may
// compute for long without a call (a wasm module), a thread of the
// simulator's own until it calls the returned function, when the host was
// told to (Host.ThreadPerProgram); otherwise it does nothing. ctx is the
// context of the TA's OpenSession entry point or one derived from it, as a
// tzposix program's is.
func OwnThread(ctx context.Context) (release func()) {
	t, _ := ctx.Value(threadsKey{}).(*threads)
	return t.hold()
}

// hold counts one more holder of a thread until the returned function is
// called (once; later calls do nothing). A nil t holds nothing: the host
// was not told to give threads (ThreadPerProgram).
func (t *threads) hold() (release func()) {
	if t == nil {
		return func() {}
	}
	t.add(1)
	var once sync.Once
	return func() { once.Do(func() { t.add(-1) }) }
}

// ThreadPerProgram makes the host run Go code on base threads at once
// (GOMAXPROCS) plus one for each TA program that holds a thread of its own
// (OwnThread), up to MaxThreads. The process's GOMAXPROCS is the host's
// to set from then on. Call it before the host serves anyone.
func (h *Host) ThreadPerProgram(base int) {
	h.threads = newThreads(max(base, 1))
}

// GoPrepare runs d.Prepare, if set (a wasm TA's compilation, which may
// compute for long), on a goroutine that holds a thread of its own while it
// runs, as a running program does (OwnThread), when the host was told to
// (ThreadPerProgram). wg, if not nil, counts the goroutine.
func (h *Host) GoPrepare(d Definition, wg *sync.WaitGroup) {
	if d.Prepare == nil {
		return
	}
	release := h.threads.hold()
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		defer release()
		if wg != nil {
			defer wg.Done()
		}
		d.Prepare()
	}()
}
