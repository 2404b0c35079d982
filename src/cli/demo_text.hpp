// The demos' input text, in a form every worker can map: a regular file as it
// is, anything else (a pipe, a terminal) first copied into a sealed memfd.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "integer_input.hpp"
#include "strata/file_descriptor.hpp"

namespace strata::cli {

/// An input text that workers map and parse part by part.
struct text_source {
    file_descriptor fd;       ///< a regular file, or a sealed memfd
    std::uint64_t size = 0;   ///< bytes, as when opened
    std::string name;         ///< for messages: the path, or "standard input"
    double read_seconds = 0;  ///< time spent copying a pipe into memory
};

/// Opens `path` ("" or "-": standard input). Throws input_error naming the
/// file and the cause.
text_source open_text(const std::string& path);

/// Throws input_error if the file's size changed since it was opened (a
/// file cut short while mapped reads as zeros past its new end).
void check_unchanged(const text_source& source);

/// After the parts of `source` were parsed: throws input_error if the text
/// changed meanwhile, or for the first bad token any part found (the first
/// in the text, as a serial parse would report it). `Part` has `error_at`.
template <class Part>
void check_parts(const text_source& source, const std::vector<Part>& parts);

/// A read-only mapping of a text: the parts of it one process parses.
class mapped_text {
public:
    /// Maps `size` bytes of `fd`; pages in [first, last) are read ahead.
    mapped_text(const file_descriptor& fd, std::uint64_t size, std::uint64_t first = 0, std::uint64_t last = UINT64_MAX);
    ~mapped_text();
    mapped_text(const mapped_text&) = delete;
    mapped_text& operator=(const mapped_text&) = delete;

    std::string_view text() const noexcept { return {data_, size_}; }

private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace strata::cli

namespace strata::cli {

template <class Part>
void check_parts(const text_source& source, const std::vector<Part>& parts) {
    check_unchanged(source);
    for (const auto& part : parts) {
        if (part.error_at != part_result::no_error) {
            const mapped_text mapped(source.fd, source.size);
            throw input_error(describe_bad_token(mapped.text(), part.error_at, source.name));
        }
    }
}

}  // namespace strata::cli
