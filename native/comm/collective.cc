#include "collective.h"

#include "../core/errors.h"

namespace ck::comm {

void checkMembers(const char* op, const std::vector<Member>& members, Range range) {
  if (members.empty()) throw Error(Code::Arg, std::string(op) + ": no devices");
  if (range.offset < 0 || range.length < 0 || range.offset > (int64_t(1) << 61) - range.length)
    throw Error(Code::Arg, std::string(op) + ": range [" + std::to_string(range.offset) + ", +" +
                               std::to_string(range.length) + ") is not a range of elements");
  const size_t end = size_t(range.offset + range.length) * sizeof(float);
  for (const Member& m : members)
    if (!m.tensor.storage || m.tensor.bytes < end)
      throw Error(Code::Arg, std::string(op) + ": the tensor on " + m.device + " holds " +
                                 std::to_string(m.tensor.storage ? m.tensor.bytes : 0) +
                                 " bytes, the range ends at byte " + std::to_string(end));
  if (range.length == 0) return;
  const size_t begin = size_t(range.offset) * sizeof(float);
  for (size_t i = 0; i < members.size(); i++)
    for (size_t j = i + 1; j < members.size(); j++) {
      const Member &a = members[i], &b = members[j];
      const Storage &sa = *a.tensor.storage, &sb = *b.tensor.storage;
      // Host memory is one address space for every CPU stream; two GPUs' memories never overlap.
      if (sa.kind != sb.kind || (sa.kind == DeviceKind::Cuda && sa.deviceIndex != sb.deviceIndex)) continue;
      const char* pa = static_cast<const char*>(a.tensor.data());
      const char* pb = static_cast<const char*>(b.tensor.data());
      if (pa + begin < pb + end && pb + begin < pa + end)
        throw Error(Code::Arg, std::string(op) + ": the tensors on " + a.device + " and " + b.device +
                                   " share memory in the range (each device needs its own copy)");
    }
}

}  // namespace ck::comm
