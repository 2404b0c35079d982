// strata::error and its family: every failure strata reports is one of these.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "strata/export.hpp"

namespace strata {

/// Base of every exception strata throws on purpose (OS failures are
/// std::system_error). Catch this to handle any strata failure.
class STRATA_API error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// strata was asked for something it does not allow: submit to a closed
/// pool, get() on a cancelled future, an unknown task name or a result type
/// that does not match the task's, an option a saver does not know.
class STRATA_API usage_error : public error {
public:
    using error::error;
};

/// An image file could not be read or written. what() reads
/// "<path>: <reason>"; path() and reason() give the parts.
class STRATA_API image_error : public error {
public:
    image_error(std::filesystem::path path, std::string reason);

    const std::filesystem::path& path() const noexcept { return path_; }
    const std::string& reason() const noexcept { return reason_; }

private:
    std::filesystem::path path_;
    std::string reason_;
};

/// An image is refused before decoding because what a step of the chain
/// would make of it is over load_options' pixel or memory limit: the chain
/// asks too much of this image. (An input itself over a limit is a plain
/// image_error.)
class STRATA_API over_limit : public image_error {
public:
    using image_error::image_error;
};

/// An output file already exists and replacing it was not asked for
/// (write_options::overwrite is false): nothing was changed.
class STRATA_API output_exists : public image_error {
public:
    using image_error::image_error;
};

/// A wrong filter chain: what() names the problem and shows where it is.
class STRATA_API chain_error : public error {
public:
    chain_error(std::string message, std::string chain, std::size_t position);
    /// The message without the excerpt.
    const std::string& message() const noexcept { return message_; }
    const std::string& chain() const noexcept { return chain_; }
    /// Offset of the offending part in the chain text.
    std::size_t position() const noexcept { return position_; }

private:
    std::string message_, chain_;
    std::size_t position_;
};

// The process pool's failures.

/// A task raised an exception in its worker. The pool goes on.
class STRATA_API remote_error : public error {
public:
    remote_error(std::string task, int pid, std::string type, std::string message);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    /// The exception's type, e.g. "std::invalid_argument".
    const std::string& type_name() const noexcept { return type_; }
    /// The exception's what().
    const std::string& message() const noexcept { return message_; }

private:
    std::string task_, type_, message_;
    int pid_;
};

/// The worker running the task died (signal, abort, _exit, OOM kill). Only
/// that task fails; the pool replaces the worker.
class STRATA_API worker_lost : public error {
public:
    worker_lost(std::string task, int pid, std::string how);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    /// "killed by signal 9 (Killed)" or "exited with code 3".
    const std::string& how() const noexcept { return how_; }

private:
    std::string task_, how_;
    int pid_;
};

/// The task ran longer than its timeout; its worker was killed and replaced.
class STRATA_API task_timeout : public error {
public:
    task_timeout(std::string task, int pid, std::chrono::milliseconds limit);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    std::chrono::milliseconds limit() const noexcept { return limit_; }

private:
    std::string task_;
    int pid_;
    std::chrono::milliseconds limit_;
};

/// A worker could not be started (fork/exec failed, its initializer threw,
/// it never answered).
class STRATA_API start_error : public error {
public:
    using error::error;
};

/// The other side of a pipe or queue is gone (or the queue was closed) and
/// nothing is left to read; or a write found no reader.
class STRATA_API channel_closed : public error {
public:
    using error::error;
};

/// Nothing arrived before the timeout.
class STRATA_API channel_timeout : public error {
public:
    using error::error;
};

/// A message from another process did not decode (truncated, or not what
/// the receiver expected). The sender is buggy or not a strata peer.
class STRATA_API protocol_error : public error {
public:
    using error::error;
};

}  // namespace strata
