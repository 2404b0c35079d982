// Fuzz target: the decoder of the frames a worker sends its parent. A packet
// either splits into messages or is rejected with protocol_error; decoding a
// message's payload as the types the parent expects either works or throws
// protocol_error; no descriptor that came with the packet stays open.
//
// Input: byte 0 says which descriptors arrive with the packet (bits 0-1: how
// many, 0 to 3; bit 2: the memfds are sealed as the sender seals them), byte
// 1 their size in KiB; the rest is the packet.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "pool/message.hpp"
#include "strata/codec.hpp"

namespace {

[[noreturn]] void fail(const std::string& what) {
    fmt::print(stderr, "message_fuzz: {}\n", what);
    std::abort();
}

// Whether one of the memfds made for this input is still open (the fuzzer
// itself opens and closes files, so only these are looked for).
bool memfd_left_open() {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ignored;
        if (std::filesystem::read_symlink(entry.path(), ignored).string().starts_with("/memfd:fuzz-packet")) return true;
    }
    return false;
}

int make_memfd(std::size_t bytes, bool sealed) {
    const int fd = ::memfd_create("fuzz-packet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) fail("cannot make a memfd");
    if (sealed && ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) fail("cannot seal");
    return fd;
}

template <class T>
void try_decode(const strata::detail::message& m) {
    std::vector<int> fds = m.fds;  // the reader takes the ones it decodes
    try {
        strata::reader in(m.payload().data(), m.payload().size(), &fds);
        (void)in.get<T>();
    } catch (const strata::protocol_error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::vector<int> fds;
    for (int i = 0; i < (data[0] & 3); ++i) fds.push_back(make_memfd(std::size_t{data[1]} * 1024, (data[0] & 4) != 0));
    const auto* bytes = reinterpret_cast<const std::byte*>(data + 2);
    try {
        auto messages = strata::detail::parse_packet({bytes, size - 2}, std::move(fds));
        for (const auto& m : messages) {
            // What the parent decodes: results of every codec shape, failures
            // as (type name, message), shared buffers by descriptor index.
            try_decode<std::tuple<std::string, std::string>>(m);
            try_decode<std::vector<std::int64_t>>(m);
            try_decode<std::map<std::string, std::vector<double>>>(m);
            try_decode<std::optional<std::pair<int, std::string>>>(m);
            try_decode<std::vector<bool>>(m);
            try_decode<strata::shared_buffer>(m);
        }
    } catch (const strata::protocol_error&) {
    }
    if (memfd_left_open()) fail("a descriptor that came with the packet is still open");
    return 0;
}
