package simtee

// Lost is closed when the connection to the secure world is lost (the
// simulator exited): every session in it is gone. A client blocked
// elsewhere — a shadow performing its TA's accept, say — learns it here
// rather than at its next call.
func (b *Backend) Lost() <-chan struct{} { return b.done }

// Err is why the connection was lost (TEEC_ERROR_TARGET_DEAD), nil while
// it is not.
func (b *Backend) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
