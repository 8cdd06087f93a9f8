// Unix socket plumbing shared by the listeners and ports, and the switch's side of its
// trust boundary on the filesystem:
//  - the socket folder is created with mkdir, or taken only when it is a real folder of
//    the switch's user, and nobody else may be able to move it (every folder above it
//    belongs to root or that user and is writable by nobody else unless sticky);
//  - sockets are born with their mode and group (umask and fsgid around bind), and the
//    folder's are set through its descriptor: no chmod or chown ever follows a path that
//    someone could swap for a symlink;
//  - an address a client names for the switch to send to must be the client's own.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace vnet::sw {

Result<sockaddr_un> unix_addr(const std::string& path);

// Opens folder `path` for the switch's sockets: missing folders are created (those above
// it 0755), an existing one must be a real folder (not a symlink) owned by the switch's
// user; then `mode` and `gid` (>= 0) are applied through the descriptor. Every folder on
// the way must be safe (see above), or the switch would serve at a path another user
// can redirect. `created`: whether `path` itself was made here.
Result<UniqueFd> open_socket_dir(const std::string& path, uint32_t mode, int gid,
                                 bool& created);
// A socket of `type` bound at `path` (in a folder that must be safe), born with `mode`
// and group `gid` (>= 0; needs root). An existing socket file is replaced only when
// nobody answers on it; anything else at `path` is refused. Non-blocking.
Result<UniqueFd> bind_unix(const std::string& path, int type, uint32_t mode, int gid);
// bind_unix, then listen() (backlog 64) for SOCK_STREAM.
Result<UniqueFd> listen_unix(const std::string& path, int type, uint32_t mode, int gid);
Status set_nonblock(int fd);

// An address a client gave the switch to send to (a VDE client's data socket, the last
// sender on a dgram port). Path names only: an abstract name has no owner to check (and
// may mean another namespace's socket), so it is refused. A client running as root or as
// the switch's own user could write to the socket itself; anyone else must own the
// socket it names, and then the switch sends to that very inode through /proc/self/fd
// (`pin` held open), so replacing the path afterwards (a symlink to a root-owned socket)
// changes nothing.
struct ClientAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
  UniqueFd pin;
};
Result<ClientAddress> check_client_address(const sockaddr_un& named, socklen_t len,
                                           uid_t peer_uid);

}  // namespace vnet::sw
