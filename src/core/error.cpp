// Out-of-line members of the strata::error family (keeps their vtables in libstrata).
#include "strata/error.hpp"

#include <utility>

#include <fmt/format.h>

namespace strata {

image_error::image_error(std::filesystem::path path, std::string reason)
    : error(std::string(path.string()).append(": ").append(reason)), path_(std::move(path)), reason_(std::move(reason)) {}

remote_error::remote_error(std::string task, int pid, std::string type, std::string message)
    : error(fmt::format("task '{}' raised {} in worker {}: {}", task, type, pid, message)),
      task_(std::move(task)),
      type_(std::move(type)),
      message_(std::move(message)),
      pid_(pid) {}

worker_lost::worker_lost(std::string task, int pid, std::string how)
    : error(fmt::format("task '{}' lost its worker {}, which {}", task, pid, how)),
      task_(std::move(task)),
      how_(std::move(how)),
      pid_(pid) {}

task_timeout::task_timeout(std::string task, int pid, std::chrono::milliseconds limit)
    : error(fmt::format("task '{}' ran over its timeout of {} ms; worker {} was killed", task, limit.count(), pid)),
      task_(std::move(task)),
      pid_(pid),
      limit_(limit) {}

}  // namespace strata
