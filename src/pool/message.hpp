// Internal: the wire format between the parent and its workers (and through
// pipes and queues). One SOCK_SEQPACKET packet holds one or more messages;
// descriptors travel with SCM_RIGHTS; a payload over inline_limit travels in
// a sealed memfd, so the channel itself carries only small frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/export.hpp"
#include "strata/shared_memory.hpp"

namespace strata::detail {

enum class message_kind : std::uint8_t {
    hello = 1,        ///< worker -> parent: started (id = pid)
    run,              ///< parent -> worker: call task `name` with payload arguments
    run_chunk,        ///< parent -> worker: call task `name` on each item of payload
    run_star_chunk,   ///< as run_chunk, items are argument tuples
    result,           ///< worker -> parent: task `id` returned payload (tag = type)
    failure,          ///< worker -> parent: task `id` threw (payload: type name, message)
    init_failed,      ///< worker -> parent: the initializer threw (payload as failure)
    stop,             ///< parent -> worker: exit now
    value,            ///< pipe / queue: one sent value
    fork_request,     ///< pool -> fork server: make a worker
    forked,           ///< fork server -> pool: a worker (id = pid, or 0 with tag = errno), its channel attached
    exited,           ///< fork server -> pool: worker `id` ended with wait status `tag`
};

inline constexpr std::size_t inline_limit = 32 * 1024;
inline constexpr std::size_t max_packet = 64 * 1024;
inline constexpr std::size_t max_fds_per_packet = 250;

/// An encoded message ready to send: owns its descriptors (the ones it
/// carries, plus the memfd holding a large payload).
class packet_part {
public:
    packet_part(message_kind kind, std::uint64_t id, std::uint64_t tag, std::string_view name,
                std::vector<std::byte> payload, std::vector<int> owned_fds);
    packet_part(packet_part&&) noexcept;
    packet_part& operator=(packet_part&&) noexcept;
    packet_part(const packet_part&) = delete;
    packet_part& operator=(const packet_part&) = delete;
    ~packet_part();

    const std::vector<std::byte>& bytes() const noexcept { return bytes_; }
    const std::vector<int>& fds() const noexcept { return fds_; }

private:
    std::vector<std::byte> bytes_;
    std::vector<int> fds_;
};

/// One received message: owns the descriptors that came with it. (Exported,
/// as parse_packet is, for the fuzz target.)
struct STRATA_API message {
    message_kind kind{};
    std::uint64_t id = 0;
    std::uint64_t tag = 0;
    std::string name;
    std::vector<int> fds;  ///< the message's own descriptors; -1 once taken
    std::span<const std::byte> payload() const noexcept { return payload_view; }

    message() = default;
    message(message&&) noexcept;
    message& operator=(message&&) noexcept;
    message(const message&) = delete;
    message& operator=(const message&) = delete;
    ~message();

    std::vector<std::byte> inline_payload;
    shared_buffer out_of_line;  ///< the mapped memfd of a large payload
    std::span<const std::byte> payload_view;
};

enum class send_status { sent, would_block, peer_gone };

/// Sends `parts` as one packet. Non-blocking when `wait` is false.
/// Throws std::system_error on other failures.
send_status send_packet(int socket, std::span<const packet_part* const> parts, bool wait);
send_status send_one(int socket, const packet_part& part, bool wait);

/// Result of receiving one packet.
struct received {
    enum class status { ok, would_block, closed, malformed } state = status::closed;
    std::vector<message> messages;
    std::string problem;  ///< for malformed: what was wrong
};

/// Receives one packet and splits it into messages. Throws protocol_error
/// when the packet is malformed (the peer is not a well-behaved strata peer).
received receive_packet(int socket, bool wait);

/// Receives every packet waiting (up to 32, one system call) without
/// blocking; messages in order. State: ok (maybe no messages), closed, or
/// malformed (the messages before the bad packet are still returned).
received receive_waiting(int socket);

/// Parses the messages of one packet (exposed for fuzzing). Takes ownership
/// of `fds` (closed if the packet is rejected).
STRATA_API std::vector<message> parse_packet(std::span<const std::byte> bytes, std::vector<int> fds);

}  // namespace strata::detail
