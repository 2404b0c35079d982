// strata::error and its family: every failure strata reports is one of these.
#pragma once

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

}  // namespace strata
