// Gloo's rendezvous Store, as a blocking client of convkit's own TCP store (the wire format is
// lib/parallel/store-protocol.ts: u32 little-endian length, then the body; replies are a status
// byte then the result, or an error's code and message).
//
// Why a native client rather than callbacks into JS: the rendezvous runs on a native thread
// while the JS thread stays free (rank 0's event loop is the one serving the store), and no
// thread ever waits on JS to answer. Every read and write is bounded by a deadline (poll), so a
// store that vanished is an error, never a hang.
#pragma once
#include <gloo/rendezvous/store.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ck::gloo_shim {

// Thrown for every failure; `timeout` separates "nobody answered in time" from other failures.
struct StoreError : std::runtime_error {
  StoreError(const std::string& m, bool t) : std::runtime_error(m), timeout(t) {}
  bool timeout;
};

class TcpStoreClient : public ::gloo::rendezvous::Store {
 public:
  // Connects, retrying until `timeout` passes (rank 0 may not be serving yet).
  TcpStoreClient(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~TcpStoreClient() override;
  TcpStoreClient(const TcpStoreClient&) = delete;
  TcpStoreClient& operator=(const TcpStoreClient&) = delete;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  // Sends one request and returns the reply's result bytes; a reply with an error status throws.
  std::vector<char> call(const std::vector<char>& body, std::chrono::milliseconds serverTimeout, const char* op);
  void sendAll(const char* p, size_t n, std::chrono::steady_clock::time_point deadline);
  void recvAll(char* p, size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string where_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ck::gloo_shim
