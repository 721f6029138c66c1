// The Gloo shim (convkit_gloo.so, gloo_api.h) loaded at run time with dlopen, the way cuBLAS is:
// the addon never links Gloo, so it builds and loads without libgloo-dev, and a missing or broken
// shim is a reason that backends() reports (the path and dlerror), never a failed addon load.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "gloo_api.h"

namespace ck::comm {

// Loads the shim at `path` (once: later calls return the first outcome, whatever their path).
// Returns an empty string on success, else why it failed, naming the path and dlerror.
std::string loadGloo(const std::string& path);
bool glooLoaded();
// The loaded shim's Gloo version ("gloo 0.5.0 (tcp transport)") and the file it came from.
std::string glooVersion();
std::string glooPath();

// One process group's Gloo context. Its collectives block the calling thread (a CPU stream's
// executor, never the JS thread) until every rank has taken part, a peer fails or the timeout
// passes; failures throw ck::Error: ND_TIMEOUT for a silent peer, ND_CLOSED for a dead one,
// naming the op and this rank.
class GlooComm {
 public:
  // Connects the full mesh through the TCP store (blocks; call off the JS thread).
  static std::shared_ptr<GlooComm> create(const ck_gloo_create_args& args);
  ~GlooComm();
  GlooComm(const GlooComm&) = delete;
  GlooComm& operator=(const GlooComm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  void allReduceSum(float* data, size_t count);
  void broadcast(float* data, size_t count, int root);
  void barrier();

 private:
  GlooComm(ck_gloo_ctx* ctx, int rank, int size) : ctx_(ctx), rank_(rank), size_(size) {}
  [[noreturn]] void fail(int status, const char* op, const char* msg) const;
  ck_gloo_ctx* ctx_;
  int rank_, size_;
};

}  // namespace ck::comm
