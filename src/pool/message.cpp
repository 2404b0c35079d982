// Packets of messages over SOCK_SEQPACKET, with descriptors and memfd payloads.
#include "message.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "strata/codec.hpp"
#include "strata/future.hpp"
#include "syscall.hpp"

namespace strata::detail {

namespace {

constexpr std::uint32_t wire_magic = 0x4d525453;  // "STRM"
constexpr std::uint8_t flag_out_of_line = 1;

struct wire_header {
    std::uint32_t magic;
    std::uint8_t kind;
    std::uint8_t flags;
    std::uint16_t name_length;
    std::uint32_t fd_count;
    std::uint32_t reserved;
    std::uint64_t id;
    std::uint64_t tag;
    std::uint64_t payload_length;
};
static_assert(sizeof(wire_header) == 40);

void close_all(std::vector<int>& fds) noexcept {
    for (int& fd : fds) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
}

// The descriptors that arrived with a received packet (now ours to close).
std::vector<int> received_fds(msghdr& header) {
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            const auto* data = reinterpret_cast<const int*>(CMSG_DATA(c));
            fds.insert(fds.end(), data, data + count);
        }
    }
    return fds;
}

int memfd_holding(std::span<const std::byte> payload) {
    const int fd = sys::memfd_create("strata-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "memfd_create for a large message");
    std::size_t written = 0;
    while (written < payload.size()) {
        const ssize_t n = ::write(fd, payload.data() + written, payload.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int saved = errno;
            ::close(fd);
            throw std::system_error(saved, std::generic_category(), "writing a large message to its memfd");
        }
        written += static_cast<std::size_t>(n);
    }
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

}  // namespace

}  // namespace strata::detail

namespace strata {

writer& writer::operator=(writer&& other) noexcept {
    if (this != &other) {
        detail::close_fds(fds_);
        bytes_ = std::move(other.bytes_);
        fds_ = std::exchange(other.fds_, {});
    }
    return *this;
}

writer::~writer() { detail::close_fds(fds_); }

std::uint32_t writer::add_fd(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw std::system_error(errno, std::generic_category(), "duplicating a descriptor to send");
    fds_.push_back(copy);
    return static_cast<std::uint32_t>(fds_.size() - 1);
}

}  // namespace strata

namespace strata::detail {

packet_part::packet_part(message_kind kind, std::uint64_t id, std::uint64_t tag, std::string_view name,
                         std::vector<std::byte> payload, std::vector<int> owned_fds)
    : fds_(std::move(owned_fds)) {
    if (name.size() > 0xffff) {
        close_all(fds_);
        throw error("task name longer than 65535 bytes");
    }
    const bool out_of_line = payload.size() > inline_limit;
    if (out_of_line) {
        try {
            fds_.push_back(memfd_holding(payload));
        } catch (...) {
            close_all(fds_);
            throw;
        }
    }
    if (fds_.size() > max_fds_per_packet) {
        close_all(fds_);
        throw error("a message can carry at most 250 descriptors (shared buffers, pipe ends)");
    }
    const wire_header header{wire_magic,
                             static_cast<std::uint8_t>(kind),
                             out_of_line ? flag_out_of_line : std::uint8_t{0},
                             static_cast<std::uint16_t>(name.size()),
                             static_cast<std::uint32_t>(fds_.size()),
                             0,
                             id,
                             tag,
                             payload.size()};
    bytes_.resize(sizeof header + name.size() + (out_of_line ? 0 : payload.size()));
    std::memcpy(bytes_.data(), &header, sizeof header);
    if (!name.empty()) std::memcpy(bytes_.data() + sizeof header, name.data(), name.size());
    if (!out_of_line && !payload.empty()) {
        std::memcpy(bytes_.data() + sizeof header + name.size(), payload.data(), payload.size());
    }
}

packet_part::packet_part(packet_part&& other) noexcept
    : bytes_(std::move(other.bytes_)), fds_(std::exchange(other.fds_, {})) {}

packet_part& packet_part::operator=(packet_part&& other) noexcept {
    if (this != &other) {
        close_all(fds_);
        bytes_ = std::move(other.bytes_);
        fds_ = std::exchange(other.fds_, {});
    }
    return *this;
}

packet_part::~packet_part() { close_all(fds_); }

message::message(message&& other) noexcept
    : kind(other.kind),
      id(other.id),
      tag(other.tag),
      name(std::move(other.name)),
      fds(std::exchange(other.fds, {})),
      inline_payload(std::move(other.inline_payload)),
      out_of_line(std::move(other.out_of_line)),
      payload_view(other.payload_view) {
    if (out_of_line.empty()) payload_view = {inline_payload.data(), inline_payload.size()};
}

message& message::operator=(message&& other) noexcept {
    if (this != &other) {
        close_all(fds);
        kind = other.kind;
        id = other.id;
        tag = other.tag;
        name = std::move(other.name);
        fds = std::exchange(other.fds, {});
        inline_payload = std::move(other.inline_payload);
        out_of_line = std::move(other.out_of_line);
        payload_view = out_of_line.empty() ? std::span<const std::byte>(inline_payload.data(), inline_payload.size())
                                           : other.payload_view;
    }
    return *this;
}

message::~message() { close_all(fds); }

send_status send_packet(int socket, std::span<const packet_part* const> parts, bool wait) {
    std::vector<iovec> pieces;
    std::vector<int> fds;
    pieces.reserve(parts.size());
    for (const auto* part : parts) {
        pieces.push_back({const_cast<std::byte*>(part->bytes().data()), part->bytes().size()});
        fds.insert(fds.end(), part->fds().begin(), part->fds().end());
    }
    msghdr header{};
    header.msg_iov = pieces.data();
    header.msg_iovlen = pieces.size();
    std::vector<std::byte> control;
    if (!fds.empty()) {
        if (fds.size() > max_fds_per_packet) throw error("too many descriptors for one packet");
        control.resize(CMSG_SPACE(fds.size() * sizeof(int)));
        header.msg_control = control.data();
        header.msg_controllen = control.size();
        cmsghdr* rights = CMSG_FIRSTHDR(&header);
        rights->cmsg_level = SOL_SOCKET;
        rights->cmsg_type = SCM_RIGHTS;
        rights->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
        std::memcpy(CMSG_DATA(rights), fds.data(), fds.size() * sizeof(int));
    }
    const ssize_t sent = STRATA_RETRY(::sendmsg(socket, &header, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT)));
    if (sent >= 0) return send_status::sent;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return send_status::would_block;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return send_status::peer_gone;
    throw std::system_error(errno, std::generic_category(), "sendmsg on a strata channel");
}

send_status send_one(int socket, const packet_part& part, bool wait) {
    const packet_part* parts[] = {&part};
    return send_packet(socket, parts, wait);
}

std::vector<message> parse_packet(std::span<const std::byte> bytes, std::vector<int> fds) {
    std::vector<message> messages;
    std::size_t offset = 0;
    std::size_t next_fd = 0;
    try {
        while (offset < bytes.size()) {
            wire_header header{};
            if (bytes.size() - offset < sizeof header) throw protocol_error("packet ends inside a message header");
            std::memcpy(&header, bytes.data() + offset, sizeof header);
            offset += sizeof header;
            if (header.magic != wire_magic) throw protocol_error("packet is not a strata message (bad magic)");
            if (header.kind < static_cast<std::uint8_t>(message_kind::hello) ||
                header.kind > static_cast<std::uint8_t>(message_kind::exited)) {
                throw protocol_error("unknown message kind " + std::to_string(header.kind));
            }
            if ((header.flags & ~flag_out_of_line) != 0) throw protocol_error("unknown message flags");
            if (header.name_length > bytes.size() - offset) throw protocol_error("message name runs past the packet");
            if (header.fd_count > fds.size() - next_fd) throw protocol_error("message claims descriptors it lacks");

            message m;
            m.kind = static_cast<message_kind>(header.kind);
            m.id = header.id;
            m.tag = header.tag;
            m.name.assign(reinterpret_cast<const char*>(bytes.data() + offset), header.name_length);
            offset += header.name_length;
            for (std::uint32_t i = 0; i < header.fd_count; ++i) m.fds.push_back(std::exchange(fds[next_fd++], -1));

            if ((header.flags & flag_out_of_line) != 0) {
                if (m.fds.empty()) throw protocol_error("large message without its memfd");
                const int memfd = std::exchange(m.fds.back(), -1);
                m.fds.pop_back();
                // Only a memfd sealed against shrinking and writing is safe to map:
                // otherwise the sender could truncate it under us (SIGBUS).
                const int seals = ::fcntl(memfd, F_GET_SEALS);
                if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_WRITE)) != (F_SEAL_SHRINK | F_SEAL_WRITE)) {
                    ::close(memfd);
                    throw protocol_error("large message in a memfd that is not sealed");
                }
                m.out_of_line = shared_buffer::adopt(memfd);
                if (header.payload_length > m.out_of_line.size()) {
                    throw protocol_error("large message is longer than its memfd");
                }
                m.payload_view = {m.out_of_line.data(), static_cast<std::size_t>(header.payload_length)};
            } else {
                if (header.payload_length > bytes.size() - offset) throw protocol_error("message payload runs past the packet");
                const auto* first = bytes.data() + offset;
                m.inline_payload.assign(first, first + header.payload_length);
                m.payload_view = {m.inline_payload.data(), m.inline_payload.size()};
                offset += static_cast<std::size_t>(header.payload_length);
            }
            messages.push_back(std::move(m));
        }
        if (next_fd != fds.size()) throw protocol_error("packet carries descriptors no message claims");
    } catch (...) {
        close_all(fds);
        throw;
    }
    return messages;
}

namespace {

// The kernel drops the descriptors of a message it cannot give this process.
constexpr const char* descriptors_lost =
    "the descriptors sent with a message were dropped: this process has no room for them (Too many open files)";

}  // namespace

received receive_packet(int socket, bool wait) {
    thread_local std::vector<std::byte> buffer(max_packet + 1);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
    iovec piece{buffer.data(), buffer.size()};
    msghdr header{};
    header.msg_iov = &piece;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;

    ssize_t n = STRATA_RETRY(::recvmsg(socket, &header, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT)));
    if (n < 0 && errno == ECONNRESET) {
        // As in receive_waiting: what the dead peer sent is still there.
        header.msg_controllen = sizeof control;
        n = STRATA_RETRY(::recvmsg(socket, &header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
    }
    received result;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            result.state = received::status::would_block;
            return result;
        }
        if (errno == ECONNRESET) return result;  // closed
        throw std::system_error(errno, std::generic_category(), "recvmsg on a strata channel");
    }
    std::vector<int> fds = received_fds(header);
    if (n == 0 && fds.empty()) return result;  // closed
    if ((header.msg_flags & MSG_CTRUNC) != 0) {
        close_all(fds);
        throw protocol_error(descriptors_lost);
    }
    if ((header.msg_flags & MSG_TRUNC) != 0) {
        close_all(fds);
        throw protocol_error("packet larger than the channel allows");
    }
    result.messages = parse_packet({buffer.data(), static_cast<std::size_t>(n)}, std::move(fds));
    result.state = received::status::ok;
    return result;
}

received receive_waiting(int socket) {
    constexpr std::size_t batch = 32;
    struct slot {
        std::vector<std::byte> buffer = std::vector<std::byte>(max_packet + 1);
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
        iovec piece{};
    };
    thread_local std::vector<slot> slots(batch);
    std::array<mmsghdr, batch> headers{};
    for (std::size_t i = 0; i < batch; ++i) {
        slots[i].piece = {slots[i].buffer.data(), slots[i].buffer.size()};
        headers[i].msg_hdr.msg_iov = &slots[i].piece;
        headers[i].msg_hdr.msg_iovlen = 1;
        headers[i].msg_hdr.msg_control = slots[i].control;
        headers[i].msg_hdr.msg_controllen = sizeof slots[i].control;
    }
    int count = STRATA_RETRY(::recvmmsg(socket, headers.data(), batch, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, nullptr));
    received result;
    result.state = received::status::ok;
    if (count < 0 && errno == ECONNRESET) {
        // The peer died with packets of ours unread. The kernel reports that
        // before the packets it had sent us; reading again (the error is
        // cleared by now) yields them, e.g. the result of its last task, and
        // then the end of the stream.
        count = STRATA_RETRY(::recvmmsg(socket, headers.data(), batch, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, nullptr));
    }
    if (count < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return result;
        if (errno == ECONNRESET) {
            result.state = received::status::closed;
            return result;
        }
        throw std::system_error(errno, std::generic_category(), "recvmmsg on a strata channel");
    }
    // Take every descriptor first, so none is left open whatever happens.
    std::vector<std::vector<int>> fds(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) fds[static_cast<std::size_t>(i)] = received_fds(headers[static_cast<std::size_t>(i)].msg_hdr);
    for (int i = 0; i < count; ++i) {
        const auto index = static_cast<std::size_t>(i);
        const msghdr& header = headers[index].msg_hdr;
        const auto length = headers[index].msg_len;
        auto give_up = [&](received::status state, std::string problem) {
            for (std::size_t j = index; j < fds.size(); ++j) close_all(fds[j]);
            result.state = state;
            result.problem = std::move(problem);
        };
        if (length == 0 && fds[index].empty()) {  // end of stream after the packets before it
            give_up(received::status::closed, {});
            return result;
        }
        if ((header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
            give_up(received::status::malformed, (header.msg_flags & MSG_CTRUNC) != 0
                                                     ? descriptors_lost
                                                     : "packet larger than the channel allows");
            return result;
        }
        try {
            auto messages = parse_packet({slots[index].buffer.data(), length}, std::exchange(fds[index], {}));
            for (auto& m : messages) result.messages.push_back(std::move(m));
        } catch (const std::exception& e) {
            give_up(received::status::malformed, e.what());
            return result;
        }
    }
    return result;
}

}  // namespace strata::detail
