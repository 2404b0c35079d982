// send_value / receive_value: one encoded value over a SOCK_SEQPACKET socket,
// what pipes and queues share.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "message.hpp"
#include "strata/detail/channel.hpp"
#include "syscall.hpp"

namespace strata {

namespace detail {

void send_value(int fd, writer& value, std::uint64_t tag, const char* what) {
    if (fd < 0) throw usage_error(std::string(what) + ": send on a closed end");
    const packet_part part(message_kind::value, 0, tag, {}, std::move(value.bytes()), value.release_fds());
    if (send_one(fd, part, true) != send_status::sent) {
        throw channel_closed(std::string(what) + ": nobody can receive any more (the other end is closed)");
    }
}

bool receive_value(int fd, std::uint64_t tag, const std::string& type, std::chrono::milliseconds timeout,
                   const std::function<void(reader&)>& decode, const char* what) {
    if (fd < 0) throw usage_error(std::string(what) + ": receive on a closed end");
    using clock = std::chrono::steady_clock;
    const bool forever = timeout == std::chrono::milliseconds::max();
    const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
    while (true) {
        int wait_ms = -1;
        if (!forever) {
            wait_ms = static_cast<int>(std::max<long long>(
                0, std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count()));
        }
        pollfd watch{fd, POLLIN, 0};
        const int ready = STRATA_RETRY(::poll(&watch, 1, wait_ms));
        if (ready < 0) throw std::system_error(errno, std::generic_category(), std::string("poll on a ") + what);
        if (ready == 0) return false;
        received packet = receive_packet(fd, false);
        if (packet.state == received::status::would_block) continue;  // another reader was quicker
        if (packet.state == received::status::closed) {
            throw channel_closed(std::string(what) + ": closed, and nothing is left to read");
        }
        auto& m = packet.messages.front();
        if (m.kind != message_kind::value || packet.messages.size() != 1) {
            throw protocol_error(std::string(what) + ": received something that is not a value");
        }
        if (m.tag != tag) throw usage_error(std::string(what) + ": the value received is not a " + type);
        reader in(m.payload().data(), m.payload().size(), &m.fds);
        decode(in);
        return true;
    }
}

}  // namespace detail

}  // namespace strata
