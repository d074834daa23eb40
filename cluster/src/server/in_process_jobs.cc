#include "brook/cluster/server/in_process_jobs.h"

#include <map>
#include <mutex>

namespace brook {

namespace {
std::mutex& RegistryMutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::string, const JobEntry*>& Registry() {
  static std::map<std::string, const JobEntry*> registry;
  return registry;
}
}  // namespace

std::string RegisterInProcessJob(const JobEntry& entry) {
  std::string key = std::string(kInProcessJobPrefix) + entry.name;
  std::lock_guard lock(RegistryMutex());
  Registry()[key] = &entry;
  return key;
}

const JobEntry* FindInProcessJob(const std::string& key) {
  std::lock_guard lock(RegistryMutex());
  auto it = Registry().find(key);
  return it == Registry().end() ? nullptr : it->second;
}

}  // namespace brook
