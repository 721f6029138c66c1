// The meeting point of one collective's participants: each member's stream executor arrives and
// waits until all have (a barrier, reusable for the phases of one collective). Executors block
// on each other here, never the JS thread. abort() releases every waiter, present and future,
// for a collective that could not be queued on every member: without it the members already
// queued would wait for one that never comes.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ck::comm {

class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  // Blocks until every party has arrived at this phase; false when aborted (do nothing more).
  bool arriveAndWait();
  void abort();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int parties_;
  int arrived_ = 0;
  uint64_t phase_ = 0;
  bool aborted_ = false;
};

}  // namespace ck::comm
