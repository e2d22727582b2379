// Package wasm runs WebAssembly modules (WASI preview 1 commands) as
// Trusted Applications in the simulated secure world, carrying all their
// I/O to the TA's shadow, so that a program written with ordinary os and
// net calls — compiled with GOOS=wasip1 GOARCH=wasm, or by any WASI
// toolchain — becomes a TA without change.
//
// The host is wazero. Its own WASI is a host for the local disk; this
// package implements WASI preview 1 itself (the "wasi_snapshot_preview1"
// import module) on top of ta/tzposix: every call that touches a
// descriptor, a path, a socket or a wait (fd_read, path_open, sock_accept,
// poll_oneoff, …) is a tzposix call and thus a request to the shadow, which
// performs it confined to the TA's root. Clocks, randomness, arguments and
// the environment stay in the secure world. A second import module,
// "tzposix", offers what WASI preview 1 lacks (socket, bind, connect,
// listen, sendto, recvfrom, socket options, mkfifo); package
// ta/wasm/guest wraps it for Go guests.
//
// A guest sees: fd 0 (reads nothing), fds 1 and 2 (lines go to the bridge's
// log tagged with the TA's name, rate-limited), fd 3, the preopened
// directory "/" that is the TA's root, then one nonblocking socket per
// entry of the TA's listen list, in order (stream sockets listening,
// datagram sockets bound), for net.FileListener.
//
// Containment: each session runs its own instance, with its memory capped
// (Options.MemoryLimit). An instance that calls proc_exit ends with that
// status (the TA's EXIT); one that traps — or exceeds a limit wazero
// enforces by trapping — panics the TA, which the securesim host reports as
// TEE_ERROR_TARGET_DEAD; either way the supervisor restarts the TA by its
// policy. Closing the session (shadow shutdown, cancellation) stops the
// instance even if it never makes a call again, a guest that spins for
// ever included.
//
// docs/wasm.md describes the mapping call by call, and what is left out.
package wasm
