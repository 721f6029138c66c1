// The device registry and the collectives slot of device.h. Providers and factories are set at
// addon load (before any op) and only read afterwards.
#include "device.h"

#include <atomic>
#include <initializer_list>

#include "device_cpu.h"

namespace ck {

namespace {

constexpr int kKinds = 2;  // DeviceKind::Cpu, DeviceKind::Cuda
std::atomic<DeviceProvider> gProviders[kKinds];
std::atomic<CollectivesFactory> gFactories[kKinds];

const char* kindName(DeviceKind k) { return k == DeviceKind::Cuda ? "cuda" : "cpu"; }

}  // namespace

std::string Device::name() const { return std::string(kindName(kind_)) + ":" + std::to_string(index_); }

void Device::refuseWhileCapturing(const char* op, Device& other) {
  for (Device* d : {this, &other})
    if (d->capturing())
      throw Error(Code::Arg,
                  std::string(op) + ": " + d->name() +
                      " is capturing; a copy between devices orders them with events, which would act only at a "
                      "replay");
}

Device& device(DeviceKind kind, int index, const char* op) {
  if (kind == DeviceKind::Cpu) return cpuDevice(index, op);
  DeviceProvider p = gProviders[int(kind)].load(std::memory_order_acquire);
  if (!p)
    throw Error(Code::NoCuda, std::string(op) + ": " + kindName(kind) + ":" + std::to_string(index) +
                                  " needs the CUDA build of convkit (this is the CPU build)");
  return p(index, op);
}

void setDeviceProvider(DeviceKind kind, DeviceProvider provider) {
  gProviders[int(kind)].store(provider, std::memory_order_release);
}

std::unique_ptr<Collectives> collectives(const std::vector<Device*>& devices, const char* op) {
  if (devices.empty()) throw Error(Code::Arg, std::string(op) + ": a collective needs at least one device");
  const DeviceKind kind = devices[0]->kind();
  for (Device* d : devices)
    if (d->kind() != kind)
      throw Error(Code::Arg, std::string(op) + ": " + devices[0]->name() + " and " + d->name() +
                                 " are of different kinds (one collective spans one kind of device)");
  CollectivesFactory f = gFactories[int(kind)].load(std::memory_order_acquire);
  if (!f) throw Error(Code::Arg, std::string(op) + ": no collectives engine for " + kindName(kind) + " devices");
  return f(devices);
}

void setCollectivesFactory(DeviceKind kind, CollectivesFactory factory) {
  gFactories[int(kind)].store(factory, std::memory_order_release);
}

}  // namespace ck
