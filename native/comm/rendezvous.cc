#include "rendezvous.h"

namespace ck::comm {

bool Rendezvous::arriveAndWait() {
  std::unique_lock<std::mutex> lk(mu_);
  if (aborted_) return false;
  if (++arrived_ == parties_) {
    arrived_ = 0;
    phase_++;
    cv_.notify_all();
    return true;
  }
  const uint64_t phase = phase_;
  cv_.wait(lk, [&] { return phase_ != phase || aborted_; });
  return phase_ != phase;
}

void Rendezvous::abort() {
  std::lock_guard<std::mutex> lk(mu_);
  aborted_ = true;
  cv_.notify_all();
}

}  // namespace ck::comm
