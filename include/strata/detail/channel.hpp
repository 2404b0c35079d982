// Sending and receiving one encoded value on a SEQPACKET socket: what pipes
// and queues share (channel.cpp). Not for direct use.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>

#include "strata/codec.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"

namespace strata {

namespace detail {
/// Low-level send / receive of one encoded value on a SEQPACKET socket.
STRATA_API void send_value(int fd, writer& value, std::uint64_t tag, const char* what);
/// Returns false on timeout; throws channel_closed at end of stream.
STRATA_API bool receive_value(int fd, std::uint64_t tag, const std::string& type, std::chrono::milliseconds timeout,
                              const std::function<void(reader&)>& decode, const char* what);

template <class T>
void send_as(int fd, const T& value, const char* what) {
    writer w;
    w.put(value);
    send_value(fd, w, type_tag<T>(), what);
}

template <class T>
T receive_as(int fd, std::chrono::milliseconds timeout, const char* what) {
    std::optional<T> value;
    if (!receive_value(fd, type_tag<T>(), type_name(typeid(T)), timeout, [&](reader& r) { value.emplace(r.get<T>()); },
                       what)) {
        throw channel_timeout(std::string(what) + ": nothing arrived within the timeout");
    }
    return std::move(*value);
}
}  // namespace detail

}  // namespace strata
