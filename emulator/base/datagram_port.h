// The seam between a protocol stack and whatever carries its datagrams: a
// CoAP session takes a port, the emulated radio (or a test) provides one
// per path between a device and one peer, and neither knows the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace hil {

class DatagramPort {
 public:
  using Receiver = std::function<void(const uint8_t* data, size_t len)>;

  // Closes the path: datagrams still on their way over it are lost.
  virtual ~DatagramPort() = default;
  // One datagram towards the peer. False: it could not leave (the port
  // counts it where its owner reports losses).
  virtual bool send(const uint8_t* data, size_t len) = 0;
  // Where the peer's datagrams go from now on; none arrive before it is set.
  virtual void set_receiver(Receiver receiver) = 0;
};

}  // namespace hil
