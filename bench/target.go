package bench

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/internal/netaddr"
)

// target is the TA a run measures through the bridge: which one, in which
// secure world, and where it serves each transport. It is read from the
// configuration, so that any echoing TA can be measured (the C example on
// a device serves FIFO and one TCP port only), not just the built-in echo.
type target struct {
	// Name is the TA's name, its directory under the mount.
	Name string
	// SecureWorld is the configuration's tee: "sim", "auto" or a device.
	SecureWorld string
	// TA is the TA's configuration, for the null call's session.
	TA config.TA
	// Serves are the transports the TA serves, in Transports order.
	Serves []string
	// FIFOIn and FIFOOut, Unix are paths inside the TA's directory.
	FIFOIn, FIFOOut, Unix string
	// TCPPort and UDPPort are proxy ports on 127.0.0.1, where the client
	// connects.
	TCPPort, UDPPort int
}

// The FIFO pair a TA serves the echo on: the names the built-in echo uses.
const (
	fifoInName  = "in"
	fifoOutName = "out"
)

// resolveTarget finds the TA named name in configYAML (the only TA when
// name is empty) and the transports it serves: FIFO when it declares FIFO
// endpoints "in" and "out"; UNIX for its first UNIX socket endpoint; TCP
// and UDP for its first proxy of each listening on 127.0.0.1.
func resolveTarget(configYAML, name string) (target, error) {
	cfg, err := config.Parse([]byte(configYAML))
	if err != nil {
		return target{}, fmt.Errorf("bench configuration: %w", err)
	}
	var names []string
	for _, t := range cfg.TAs {
		names = append(names, t.Name)
	}
	i := slices.Index(names, name)
	if name == "" {
		if len(cfg.TAs) != 1 {
			return target{}, fmt.Errorf("the configuration has %d TAs (%s): name the one to measure with --ta", len(cfg.TAs), strings.Join(names, ", "))
		}
		i = 0
	}
	if i < 0 {
		return target{}, fmt.Errorf("no TA %q in the configuration (it has %s)", name, strings.Join(names, ", "))
	}
	ta := cfg.TAs[i]
	tg := target{Name: ta.Name, SecureWorld: cfg.TEE, TA: ta}
	var fifos []string
	for _, e := range ta.Endpoints {
		switch {
		case e.Kind == "fifo":
			fifos = append(fifos, e.Name)
		case e.Kind == "unix" && tg.Unix == "":
			tg.Unix = e.Name
		}
	}
	if slices.Contains(fifos, fifoInName) && slices.Contains(fifos, fifoOutName) {
		tg.FIFOIn, tg.FIFOOut = fifoInName, fifoOutName
	}
	for _, p := range ta.Proxies {
		la, err := netaddr.Parse(p.Listen)
		if err != nil || la.Network == "unix" {
			continue
		}
		network := la.Network
		ap, err := netip.ParseAddrPort(la.Addr)
		if err != nil || ap.Addr() != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
			continue // the client dials 127.0.0.1, as the direct peer listens
		}
		switch {
		case network == "tcp" && tg.TCPPort == 0:
			tg.TCPPort = int(ap.Port())
		case network == "udp" && tg.UDPPort == 0:
			tg.UDPPort = int(ap.Port())
		}
	}
	for _, t := range Transports {
		if tg.serves(t) {
			tg.Serves = append(tg.Serves, t)
		}
	}
	return tg, nil
}

func (tg target) serves(transport string) bool {
	switch transport {
	case FIFO:
		return tg.FIFOIn != ""
	case Unix:
		return tg.Unix != ""
	case TCP:
		return tg.TCPPort != 0
	case UDP:
		return tg.UDPPort != 0
	}
	return false
}

// endpoints are the target's endpoints under mount.
func (tg target) endpoints(mount string) Endpoints {
	ep := Endpoints{TCPPort: tg.TCPPort, UDPPort: tg.UDPPort}
	root := path.Join(mount, tg.Name)
	if tg.FIFOIn != "" {
		ep.FIFOIn, ep.FIFOOut = path.Join(root, tg.FIFOIn), path.Join(root, tg.FIFOOut)
	}
	if tg.Unix != "" {
		ep.Unix = path.Join(root, tg.Unix)
	}
	return ep
}

// transports picks the transports to measure: those asked (nil: all the
// TA serves), each of which the TA must serve.
func (tg target) transports(asked []string) ([]string, error) {
	if asked == nil {
		return tg.Serves, nil
	}
	for _, t := range asked {
		if !slices.Contains(Transports, t) {
			return nil, fmt.Errorf("unknown transport %q (have %v)", t, Transports)
		}
		if !tg.serves(t) {
			return nil, fmt.Errorf("TA %s does not serve %s: it serves %v (FIFO needs endpoints %q and %q, UNIX a unix endpoint, TCP and UDP a proxy listening on 127.0.0.1)",
				tg.Name, t, tg.Serves, fifoInName, fifoOutName)
		}
	}
	return asked, nil
}
