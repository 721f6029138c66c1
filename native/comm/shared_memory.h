// The collective engine of CPU streams in one process (cpu:0, cpu:1, ...): the members' tensors
// share the address space, so the reduction needs no copies. The op queued on every member's
// stream meets the others at a barrier (so every member's earlier ops, its gradient writes, are
// done), then member r reduces chunk r of the range across all members in a fixed order
// (member 0 + 1 + 2 ...) and writes the result into every member's tensor, then all meet at a
// second barrier (so no member's later op touches its tensor while another still writes it).
// The work is split across the participating streams, each using only its own executor thread,
// and every member ends with identical bytes, the same at every run.
#pragma once
#include "collective.h"

namespace ck::comm {

// Refuses (ND_ARG) what would hang or race: members that are not CPU streams, two members on
// one stream (its executor cannot arrive twice), and a stream that is capturing (the recording
// would hold this stream's part only). Collectives are queued under one process-wide lock, so
// every stream sees them in one global order and two of them can never wait on each other.
Engine& sharedMemoryEngine();

// The chunk of [0, length) that member `rank` of `members` reduces or copies: equal parts on
// 64-byte boundaries (no two members write one cache line), empty for ranks past the end.
void chunkOf(int64_t length, int members, int rank, int64_t* begin, int64_t* end);

}  // namespace ck::comm
