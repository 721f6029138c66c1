// The device contract's collectives slot filled by a comm::Engine: the adapter from devices and
// their buffers to the engine's members, and the CPU kind's registration.
#include "../core/device_cpu.h"
#include "collective.h"
#include "shared_memory.h"

namespace ck {
namespace comm {

namespace {

class EngineCollectives final : public Collectives {
 public:
  EngineCollectives(const std::vector<Device*>& devices, Engine& engine, BindMember bind)
      : devices_(devices), engine_(engine), bind_(bind) {}

  std::string describe() override { return engine_.describe(); }

  void allReduce(const std::vector<TensorRef>& buffers, int64_t offset, int64_t length, ReduceOp op) override {
    engine_.allReduce(members(buffers, "allReduce"), Range{offset, length}, op);
  }

  void broadcast(const std::vector<TensorRef>& buffers, int64_t offset, int64_t length, size_t root) override {
    engine_.broadcast(members(buffers, "broadcast"), Range{offset, length}, int(root));
  }

 private:
  std::vector<Member> members(const std::vector<TensorRef>& buffers, const char* op) const {
    if (buffers.size() != devices_.size())
      throw Error(Code::Arg, std::string(op) + ": " + std::to_string(buffers.size()) + " buffers for " +
                                 std::to_string(devices_.size()) + " devices");
    std::vector<Member> out(devices_.size());
    for (size_t i = 0; i < devices_.size(); i++) {
      out[i].tensor = buffers[i];
      out[i].device = devices_[i]->name();
      bind_(*devices_[i], out[i]);
    }
    return out;
  }

  std::vector<Device*> devices_;
  Engine& engine_;
  BindMember bind_;
};

void bindCpu(Device& d, Member& m) { m.cpu = &static_cast<CpuDevice&>(d).stream(); }

std::unique_ptr<Collectives> cpuFactory(const std::vector<Device*>& devices) {
  return engineCollectives(devices, sharedMemoryEngine(), bindCpu);
}

}  // namespace

std::unique_ptr<Collectives> engineCollectives(const std::vector<Device*>& devices, Engine& engine, BindMember bind) {
  return std::make_unique<EngineCollectives>(devices, engine, bind);
}

void registerCpuCollectives() { setCollectivesFactory(DeviceKind::Cpu, cpuFactory); }

}  // namespace comm
}  // namespace ck
