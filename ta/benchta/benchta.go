// Package benchta is the built-in TA behind `tzbridge bench`'s null call:
// it makes, over and over, a POSIX call that costs the shadow nothing —
// F_SETFL on a socket it holds, which only changes the shadow's table — so
// that each RESUME measures the mailbox hand-off alone.
package benchta

import (
	"context"
	"errors"
	"syscall"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/tzposix"
)

// Definition returns the TA at uuid.
func Definition(uuid gp.UUID) securesim.Definition {
	return tzposix.Definition("bench", uuid, securesim.Properties{SingleInstance: true}, Program)
}

// Program makes null calls until the session closes.
func Program(ctx context.Context, p *tzposix.Proc) error {
	fd, err := p.Socket(tzposix.AF_UNIX, tzposix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer p.Close(fd)
	for ctx.Err() == nil {
		if err := p.SetNonblock(fd, true); err != nil {
			if errors.Is(err, syscall.ECANCELED) {
				return nil // the session closed
			}
			return err
		}
	}
	return nil
}
