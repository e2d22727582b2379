// Package fusefs serves the /tz tree: a small in-memory FUSE file system
// that holds one directory per Trusted Application, in which the TA's shadow
// and unmodified client programs meet at named pipes and UNIX sockets.
//
// The tree has no backing directory. The mount root lists one directory per
// TA; the supervisor adds and removes them with [FS.AddTA] and [FS.RemoveTA],
// and nobody can create, delete or rename anything at the top level through
// the mount. Inside a TA directory the mount supports subdirectories, FIFO
// nodes and UNIX socket nodes, created by mkdir/mknod (mkfifo(3) and bind(2)
// end up there), removed by unlink/rmdir and moved by rename within the same
// TA. FIFO and socket nodes are plain inodes: the kernel carries their data
// itself and never passes it through this daemon, so a client and the shadow
// that opened the same node are joined by an ordinary kernel pipe or socket.
// Node identities stay stable for a node's whole life (renames included),
// which is what the kernel's pipe and bound-socket lookups by inode rely on.
//
// Regular files are not supported: creat(2), open(O_CREAT) of a new name and
// mknod(S_IFREG) fail with EOPNOTSUPP. Regular files come in a later version.
// Symlinks, hard links and device nodes are refused as well.
//
// Access control is the kernel's: the mount uses default_permissions and
// allow_other, so owner, group and mode of every node are enforced for every
// caller, and chmod/chown/utimes through the mount stick. On top of that,
// [Options.MayModify] decides who may create, delete or rename nodes in a
// TA's tree (see [TAOptions.CAMayModify]).
//
// A TA's directory holds at most [TAOptions.MaxNodes] nodes; past that,
// creating one fails with EDQUOT. Creating, removing and renaming a node
// and reading a directory's attributes cost the same however many nodes
// the directory holds (only readdir grows with it).
//
// Declared endpoints ([TAOptions.Endpoints]) fix the owner and mode of the
// names a TA serves: declared FIFOs exist from the moment the TA is added;
// a declared socket node appears when someone binds it, and gets the
// declared owner and mode rather than the binder's.
//
// Every TA directory holds a read-only ".tz" directory with a "status" file
// whose content is produced by [TAOptions.Status] each time it is opened,
// and a "status.json" file produced likewise by [TAOptions.StatusJSON].
//
// The package is Linux-only. As root it mounts with mount(2) directly and
// needs no fusermount binary; it clears a stale mount left behind by a killed
// earlier run before mounting, and [FS.Close] never leaves a mount behind,
// even while clients hold nodes open or are blocked opening a FIFO.
package fusefs
