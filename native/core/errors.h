// Typed errors. Every failure inside convkit's native code is a ck::Error with a code; the
// Node-API layer turns it into a JS Error with `.code`. Nothing here aborts the process.
#pragma once
#include <stdexcept>
#include <string>

namespace ck {

enum class Code { Shape, Arg, OOM, Disposed, Cuda, NoCuda, Format, Internal, Busy, Timeout, Closed };

inline const char* codeName(Code c) {
  switch (c) {
    case Code::Shape: return "ND_SHAPE";
    case Code::Arg: return "ND_ARG";
    case Code::OOM: return "ND_OOM";
    case Code::Disposed: return "ND_DISPOSED";
    case Code::Cuda: return "ND_CUDA";
    case Code::NoCuda: return "ND_NO_CUDA";
    case Code::Format: return "ND_FORMAT";
    case Code::Internal: return "ND_INTERNAL";
    case Code::Busy: return "ND_BUSY";
    case Code::Timeout: return "ND_TIMEOUT";  // a peer or a store did not answer in time
    case Code::Closed: return "ND_CLOSED";    // a peer's connection failed or closed
  }
  return "ND_INTERNAL";
}

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

// CK_CHECK guards invariants whose violation would crash (out-of-bounds access, null pointers).
// Argument validation with friendly messages happens in TypeScript before anything crosses.
#define CK_CHECK(cond, code, msg)                  \
  do {                                             \
    if (!(cond)) throw ::ck::Error((code), (msg)); \
  } while (0)

}  // namespace ck
