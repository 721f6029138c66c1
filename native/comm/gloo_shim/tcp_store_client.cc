// TcpStoreClient: see tcp_store_client.h. Opcodes and layout mirror lib/parallel/store-protocol.ts.
#include "tcp_store_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace ck::gloo_shim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t kSet = 1, kGet = 2, kWait = 4;
constexpr uint32_t kMaxReply = 16u * 1024u * 1024u;  // the server's own frame bound
// Extra time past the server's own wait timeout before the client gives up on a reply.
constexpr std::chrono::milliseconds kGrace{5000};

void putU32(std::vector<char>& b, uint32_t v) {
  for (int i = 0; i < 4; i++) b.push_back(char((v >> (8 * i)) & 0xff));
}
void putBytes(std::vector<char>& b, const char* p, size_t n) {
  if (n > kMaxReply) throw StoreError("store: a value of " + std::to_string(n) + " bytes is too large", false);
  putU32(b, uint32_t(n));
  b.insert(b.end(), p, p + n);
}
void putStr(std::vector<char>& b, const std::string& s) { putBytes(b, s.data(), s.size()); }
uint32_t getU32(const std::vector<char>& b, size_t& pos, const char* what) {
  if (pos + 4 > b.size()) throw StoreError(std::string("store: a reply's ") + what + " runs past its frame", false);
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= uint32_t(uint8_t(b[pos + i])) << (8 * i);
  pos += 4;
  return v;
}
std::string getStr(const std::vector<char>& b, size_t& pos, const char* what) {
  uint32_t n = getU32(b, pos, what);
  if (pos + n > b.size()) throw StoreError(std::string("store: a reply's ") + what + " runs past its frame", false);
  std::string s(b.data() + pos, n);
  pos += n;
  return s;
}
uint32_t clampMs(std::chrono::milliseconds t) {
  return t.count() < 0 ? 0u : t.count() > 0x7fffffff ? 0x7fffffffu : uint32_t(t.count());
}

int connectOnce(const std::string& host, int port, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    why = std::string("getaddrinfo: ") + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    why = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

TcpStoreClient::TcpStoreClient(const std::string& host, int port, std::chrono::milliseconds timeout)
    : where_(host + ":" + std::to_string(port)), timeout_(timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string why;
  for (auto delay = std::chrono::milliseconds(20);; delay = std::min(delay * 2, std::chrono::milliseconds(500))) {
    fd_ = connectOnce(host, port, why);
    if (fd_ >= 0) return;
    if (Clock::now() + delay >= deadline) break;
    std::this_thread::sleep_for(delay);
  }
  throw StoreError(
      "store: could not connect to " + where_ + " within " + std::to_string(timeout.count()) + " ms (" + why + ")",
      true);
}

TcpStoreClient::~TcpStoreClient() {
  if (fd_ >= 0) close(fd_);
}

void TcpStoreClient::sendAll(const char* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    pollfd pf{fd_, POLLOUT, 0};
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0 || poll(&pf, 1, left) == 0) throw StoreError("store " + where_ + ": sending timed out", true);
    ssize_t k = send(fd_, p, n, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw StoreError("store " + where_ + ": send failed: " + std::strerror(errno), false);
    }
    p += k;
    n -= size_t(k);
  }
}

void TcpStoreClient::recvAll(char* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    pollfd pf{fd_, POLLIN, 0};
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0 || poll(&pf, 1, left) == 0) throw StoreError("store " + where_ + ": no reply in time", true);
    ssize_t k = recv(fd_, p, n, 0);
    if (k == 0) throw StoreError("store " + where_ + ": the connection closed", false);
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw StoreError("store " + where_ + ": recv failed: " + std::strerror(errno), false);
    }
    p += k;
    n -= size_t(k);
  }
}

std::vector<char> TcpStoreClient::call(const std::vector<char>& body, std::chrono::milliseconds serverTimeout,
                                       const char* op) {
  const auto deadline = Clock::now() + serverTimeout + kGrace;
  std::vector<char> frame;
  putU32(frame, uint32_t(body.size()));
  frame.insert(frame.end(), body.begin(), body.end());
  sendAll(frame.data(), frame.size(), deadline);
  char head[4];
  recvAll(head, 4, deadline);
  size_t pos = 0;
  std::vector<char> h(head, head + 4);
  uint32_t n = getU32(h, pos, "length");
  if (n < 1 || n > kMaxReply)
    throw StoreError("store " + where_ + ": a reply of " + std::to_string(n) + " bytes", false);
  std::vector<char> reply(n);
  recvAll(reply.data(), n, deadline);
  if (reply[0] == 0) return std::vector<char>(reply.begin() + 1, reply.end());
  pos = 1;
  std::string code = getStr(reply, pos, "error code");
  std::string msg = getStr(reply, pos, "error message");
  throw StoreError(std::string("store ") + op + ": " + code + ": " + msg, code == "ND_TIMEOUT");
}

void TcpStoreClient::set(const std::string& key, const std::vector<char>& data) {
  std::vector<char> b{char(kSet)};
  putStr(b, key);
  putBytes(b, data.data(), data.size());
  call(b, std::chrono::milliseconds(0), "set");
}

std::vector<char> TcpStoreClient::get(const std::string& key) {
  std::vector<char> b{char(kGet)};
  putStr(b, key);
  putU32(b, clampMs(timeout_));
  std::vector<char> r = call(b, timeout_, "get");
  size_t pos = 0;
  std::string v = getStr(r, pos, "value");
  return std::vector<char>(v.begin(), v.end());
}

void TcpStoreClient::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  // Gloo passes kNoTimeout (0) for "the default": use the context's timeout then.
  const std::chrono::milliseconds t = timeout.count() > 0 ? timeout : timeout_;
  std::vector<char> b{char(kWait)};
  putU32(b, uint32_t(keys.size()));
  for (const std::string& k : keys) putStr(b, k);
  putU32(b, clampMs(t));
  call(b, t, "wait");
}

}  // namespace ck::gloo_shim
