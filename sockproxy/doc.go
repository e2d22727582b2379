// Package sockproxy gives each Trusted Application its own network
// namespace and makes the TA's sockets reachable from the host's.
//
// # Namespaces
//
// [CreateNamespace] makes a named network namespace the way `ip netns add`
// does: a bind mount of the new namespace at /run/netns/<name> (on a
// shared mount, so that `ip netns exec <name> …` finds it), with only the
// loopback interface, brought up. A namespace of that name left behind by
// an earlier run that was killed is removed first. [Namespace.Delete]
// removes the name; the namespace itself ends with the last process in it.
// Namespaces belong to OS threads: everything here that enters one does so
// on a thread locked for the purpose, which goes back to its namespace
// before it is unlocked ([Do]) — or, if it cannot, is thrown away — so no
// other goroutine ever runs in a namespace by accident.
//
// # Proxy addresses
//
// A proxy address is where a client in the host namespace reaches a TA
// that lives in its own namespace, without a hop in between. For TCP and
// UDP, [Listen] binds (and for TCP listens on) the proxy address in the
// caller's namespace — the supervisor's, the host's — and the socket is
// handed to the TA's shadow process. When the TA binds the matching
// address in its namespace, the shadow gives the TA that socket instead of
// the one it made ([Handover]): a socket keeps the namespace it was
// created in, so the TA's listening socket is in the host namespace and a
// client's connection is a plain kernel connection between client and
// shadow. UDP replies go out of the same socket, so each reaches the
// client that asked. The socket outlives restarts of the TA: connections
// and datagrams that arrive while the TA restarts wait in it.
//
// A socket made here for a TA in the host namespace never joins a port
// another socket holds: it gets no SO_REUSEPORT, and no SO_REUSEADDR if it
// is UDP, whatever the TA set on its own socket (a TCP one gets
// SO_REUSEADDR, which only passes over connections in TIME_WAIT). The
// supervisor makes these sockets as root, like most host services, so a
// port group would hand the TA a share of a service's clients; instead the
// TA's bind of an address a host process holds fails with EADDRINUSE.
//
// A UNIX proxy address is a symbolic link to the TA's socket node under
// the /tz tree: pathname UNIX sockets are not confined to a network
// namespace, and connect(2) follows the link to the very socket the TA
// listens on, with the node's owner and mode still checked.
//
// # Host access
//
// By default a TA's namespace holds only lo, so the TA cannot reach any
// service of the host namespace. [HostAccess] lets chosen destinations
// through: when the TA connects to one, the shadow asks the supervisor for
// a socket created in the host namespace, connects that one, and the TA
// holds it from then on — again without a relay.
//
// Sockets cross process boundaries with SCM_RIGHTS, on the control socket
// between the supervisor and the shadow (package internal/control).
package sockproxy
