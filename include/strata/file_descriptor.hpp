// file_descriptor: an open file or folder, shared by its copies, that travels
// to a worker process as a task argument (SCM_RIGHTS).
#pragma once

#include <memory>

#include "strata/codec.hpp"
#include "strata/export.hpp"

namespace strata {

/// An open descriptor, closed when the last copy goes. Passed as a task
/// argument or result it is duplicated into the receiving process, so a
/// worker can act on exactly the file or folder its parent opened (a folder
/// held open cannot be swapped for a symbolic link under it).
///
///     strata::file_descriptor folder(::open("out", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
///     pool.submit(write_into, folder, std::string("a.png"));
class STRATA_API file_descriptor {
public:
    file_descriptor() = default;
    /// Takes ownership of `fd` (negative: empty).
    explicit file_descriptor(int fd);

    /// The descriptor, still owned here (-1 when empty).
    int get() const noexcept { return owned_ ? owned_->fd : -1; }
    explicit operator bool() const noexcept { return get() >= 0; }

private:
    struct owner {
        int fd;
        explicit owner(int descriptor) noexcept : fd(descriptor) {}
        ~owner();
        owner(const owner&) = delete;
        owner& operator=(const owner&) = delete;
    };
    std::shared_ptr<owner> owned_;
};

template <>
struct codec<file_descriptor> {
    static void encode(writer& w, const file_descriptor& fd) {
        w.put(static_cast<bool>(fd));
        if (fd) w.put(w.add_fd(fd.get()));
    }
    static file_descriptor decode(reader& r) {
        if (!r.get<bool>()) return {};
        return file_descriptor(r.take_fd(r.get<std::uint32_t>()));
    }
};

}  // namespace strata
