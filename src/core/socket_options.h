// Socket options shared by the HTTP listeners (the server and the metrics exporter).
#pragma once

#include <sys/socket.h>

namespace pneumo {

// For httplib::Server::set_socket_options. httplib's default adds SO_REUSEPORT, which lets a
// second server bind a port that is already listening (the kernel then splits connections between
// them): "port in use" would go unnoticed and requests would hit the wrong process half the time.
// SO_REUSEADDR alone still allows a quick restart over connections in TIME_WAIT but refuses a
// port someone listens on.
inline void ReuseAddressOnly(int socket) {
  int yes = 1;
  setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace pneumo
