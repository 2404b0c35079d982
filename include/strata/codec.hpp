// How task arguments and results cross a process boundary: writer, reader, codec<T>.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/shared_memory.hpp"

namespace strata {

/// Appends encoded values to a byte buffer, collecting the file descriptors
/// (shared buffers, pipe ends) that travel beside the bytes.
class STRATA_API writer {
public:
    writer() = default;
    writer(writer&& other) noexcept : bytes_(std::move(other.bytes_)), fds_(std::exchange(other.fds_, {})) {}
    writer& operator=(writer&& other) noexcept;
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;
    ~writer();

    void raw(const void* bytes, std::size_t count) {
        if (count == 0) return;
        const std::size_t at = bytes_.size();
        bytes_.resize(at + count);
        std::memcpy(bytes_.data() + at, bytes, count);
    }
    template <class T>
    void put(const T& value);
    /// Queues a duplicate of `fd` to travel with the message (so the value
    /// it came from may go away first). Returns its index in the message.
    std::uint32_t add_fd(int fd);
    std::vector<std::byte>& bytes() noexcept { return bytes_; }
    /// Hands over the queued descriptors; the caller closes them.
    std::vector<int> release_fds() noexcept { return std::exchange(fds_, {}); }

private:
    std::vector<std::byte> bytes_;
    std::vector<int> fds_;
};

/// Reads values back in the order they were written. Every read is bounds
/// checked: a short or malformed message throws protocol_error, never reads
/// past the end.
class reader {
public:
    reader(const std::byte* bytes, std::size_t count, std::vector<int>* fds = nullptr)
        : bytes_(bytes), count_(count), fds_(fds) {}

    void raw(void* out, std::size_t count) {
        if (count > count_ - position_) throw protocol_error("message ends early: it is truncated or of another type");
        if (count != 0) std::memcpy(out, bytes_ + position_, count);
        position_ += count;
    }
    /// A length prefix that must fit in what is left of the message, at
    /// `element_size` bytes per element at least.
    std::size_t length(std::size_t element_size) {
        std::uint64_t n = 0;
        raw(&n, sizeof n);
        if (element_size != 0 && n > (count_ - position_) / element_size) {
            throw protocol_error("message announces more elements than it holds");
        }
        return static_cast<std::size_t>(n);
    }
    template <class T>
    T get();
    /// Takes ownership of descriptor number `index` of the message.
    int take_fd(std::uint32_t index) {
        if (fds_ == nullptr || index >= fds_->size() || (*fds_)[index] < 0) {
            throw protocol_error("message refers to a file descriptor it does not carry");
        }
        return std::exchange((*fds_)[index], -1);
    }
    bool at_end() const noexcept { return position_ == count_; }

private:
    const std::byte* bytes_;
    std::size_t count_;
    std::size_t position_ = 0;
    std::vector<int>* fds_;
};

/// The customization point: specialize codec<T> with
///     static void encode(writer&, const T&);
///     static T decode(reader&);
/// or give T a member `auto fields() { return std::tie(a, b, c); }` listing
/// its data members, and strata encodes them in that order:
///
///     struct point { int x; double y; auto fields() { return std::tie(x, y); } };
template <class T>
struct codec;

/// T can be a task argument or result.
template <class T>
concept encodable = requires(writer& w, reader& r, const T& value) {
    codec<T>::encode(w, value);
    { codec<T>::decode(r) } -> std::same_as<T>;
};

template <class T>
void writer::put(const T& value) {
    static_assert(encodable<T>,
                  "strata: this type cannot be a task argument or result; specialize strata::codec<T> "
                  "or give it `auto fields() { return std::tie(...); }`");
    codec<T>::encode(*this, value);
}

template <class T>
T reader::get() {
    static_assert(encodable<T>, "strata: this type cannot be a task argument or result");
    return codec<T>::decode(*this);
}

// --- built-in codecs -------------------------------------------------------

namespace detail {
template <class T>
concept bitwise = std::is_arithmetic_v<T> || std::is_enum_v<T>;

template <class T>
concept has_fields = std::is_default_constructible_v<T> && requires(T& value) { value.fields(); };

template <class T>
struct is_pair_like : std::false_type {};
}  // namespace detail

template <detail::bitwise T>
struct codec<T> {
    static void encode(writer& w, const T& value) { w.raw(&value, sizeof value); }
    static T decode(reader& r) {
        T value;
        r.raw(&value, sizeof value);
        return value;
    }
};

/// One byte, 0 or 1; any other value is a protocol_error (copying it into a
/// bool would be undefined behaviour).
template <>
struct codec<bool> {
    static void encode(writer& w, const bool& value) {
        const std::uint8_t byte = value ? 1 : 0;
        w.raw(&byte, 1);
    }
    static bool decode(reader& r) {
        std::uint8_t byte = 0;
        r.raw(&byte, 1);
        if (byte > 1) throw protocol_error("a bool in the message is neither 0 nor 1");
        return byte == 1;
    }
};

/// Tasks returning void produce a std::monostate on the wire.
template <>
struct codec<std::monostate> {
    static void encode(writer&, const std::monostate&) {}
    static std::monostate decode(reader&) { return {}; }
};

template <>
struct codec<std::string> {
    static void encode(writer& w, const std::string& value) {
        const std::uint64_t n = value.size();
        w.raw(&n, sizeof n);
        w.raw(value.data(), value.size());
    }
    static std::string decode(reader& r) {
        std::string value(r.length(1), '\0');
        r.raw(value.data(), value.size());
        return value;
    }
};

/// Paths travel as their native bytes.
template <>
struct codec<std::filesystem::path> {
    static void encode(writer& w, const std::filesystem::path& value) { w.put(value.native()); }
    static std::filesystem::path decode(reader& r) { return r.get<std::string>(); }
};

template <class T>
struct codec<std::vector<T>> {
    static void encode(writer& w, const std::vector<T>& values) {
        const std::uint64_t n = values.size();
        w.raw(&n, sizeof n);
        if constexpr (detail::bitwise<T> && !std::is_same_v<T, bool>) {
            w.raw(values.data(), values.size() * sizeof(T));
        } else {
            for (const auto& value : values) w.put(value);
        }
    }
    static std::vector<T> decode(reader& r) {
        if constexpr (detail::bitwise<T> && !std::is_same_v<T, bool>) {
            std::vector<T> values(r.length(sizeof(T)));
            r.raw(values.data(), values.size() * sizeof(T));
            return values;
        } else {
            const std::size_t n = r.length(1);
            std::vector<T> values;
            values.reserve(n);
            for (std::size_t i = 0; i < n; ++i) values.push_back(r.get<T>());
            return values;
        }
    }
};

template <class T, std::size_t N>
struct codec<std::array<T, N>> {
    static void encode(writer& w, const std::array<T, N>& values) {
        for (const auto& value : values) w.put(value);
    }
    static std::array<T, N> decode(reader& r) {
        std::array<T, N> values{};
        for (auto& value : values) value = r.get<T>();
        return values;
    }
};

template <class... T>
struct codec<std::tuple<T...>> {
    static void encode(writer& w, const std::tuple<T...>& values) {
        std::apply([&](const auto&... value) { (w.put(value), ...); }, values);
    }
    static std::tuple<T...> decode(reader& r) {
        // Braced initialisation evaluates left to right, matching encode.
        return std::tuple<T...>{r.get<T>()...};
    }
};

template <class A, class B>
struct codec<std::pair<A, B>> {
    static void encode(writer& w, const std::pair<A, B>& value) {
        w.put(value.first);
        w.put(value.second);
    }
    static std::pair<A, B> decode(reader& r) {
        A first = r.get<A>();
        return {std::move(first), r.get<B>()};
    }
};

template <class T>
struct codec<std::optional<T>> {
    static void encode(writer& w, const std::optional<T>& value) {
        w.put(value.has_value());
        if (value) w.put(*value);
    }
    static std::optional<T> decode(reader& r) {
        if (!r.get<bool>()) return std::nullopt;
        return r.get<T>();
    }
};

namespace detail {
template <class Container, class Element>
struct sequence_codec {
    static void encode(writer& w, const Container& values) {
        const std::uint64_t n = values.size();
        w.raw(&n, sizeof n);
        for (const auto& value : values) w.put(Element(value));
    }
    static Container decode(reader& r) {
        const std::size_t n = r.length(1);
        Container values;
        for (std::size_t i = 0; i < n; ++i) values.insert(r.get<Element>());
        return values;
    }
};
}  // namespace detail

template <class K, class V, class C, class A>
struct codec<std::map<K, V, C, A>> : detail::sequence_codec<std::map<K, V, C, A>, std::pair<K, V>> {};
template <class K, class V, class H, class E, class A>
struct codec<std::unordered_map<K, V, H, E, A>>
    : detail::sequence_codec<std::unordered_map<K, V, H, E, A>, std::pair<K, V>> {};
template <class K, class C, class A>
struct codec<std::set<K, C, A>> : detail::sequence_codec<std::set<K, C, A>, K> {};

/// Shared memory travels as its descriptor: zero copy.
template <>
struct codec<shared_buffer> {
    static void encode(writer& w, const shared_buffer& buffer) {
        const bool present = buffer.fd() >= 0;
        w.put(present);
        if (present) w.put(w.add_fd(buffer.fd()));
    }
    static shared_buffer decode(reader& r) {
        if (!r.get<bool>()) return {};
        return shared_buffer::adopt(r.take_fd(r.get<std::uint32_t>()));
    }
};

template <class T>
struct codec<shared_array<T>> {
    static void encode(writer& w, const shared_array<T>& array) { w.put(array.buffer()); }
    static shared_array<T> decode(reader& r) { return shared_array<T>(r.get<shared_buffer>()); }
};

template <class T>
struct codec<shared_value<T>> {
    static void encode(writer& w, const shared_value<T>& value) { w.put(value.buffer()); }
    static shared_value<T> decode(reader& r) { return shared_value<T>(r.get<shared_buffer>()); }
};

/// User structs that list their members with `fields()`.
template <detail::has_fields T>
    requires(!detail::bitwise<T>)
struct codec<T> {
    static void encode(writer& w, const T& value) {
        // fields() returns references; encoding only reads through them.
        std::apply([&](const auto&... field) { (w.put(field), ...); }, const_cast<T&>(value).fields());
    }
    static T decode(reader& r) {
        T value{};
        std::apply([&](auto&... field) { ((field = r.get<std::remove_cvref_t<decltype(field)>>()), ...); },
                   value.fields());
        return value;
    }
};

namespace detail {

/// A stable fingerprint of a type, equal in every process built by the same
/// compiler, used to catch a caller that expects another result type.
template <class T>
std::uint64_t type_tag() noexcept {
    const char* name = typeid(T).name();
    std::uint64_t hash = 1469598103934665603ull;
    for (; *name != '\0'; ++name) hash = (hash ^ static_cast<unsigned char>(*name)) * 1099511628211ull;
    return hash;
}

/// Readable type name for error messages (demangled where possible).
STRATA_API std::string type_name(const std::type_info& type);

/// Encodes a pack of values.
template <class... T>
void encode_all(writer& w, const T&... values) {
    (w.put(values), ...);
}

}  // namespace detail

}  // namespace strata
