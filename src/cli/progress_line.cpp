// duration_text, terminal_columns and in-place redrawing on stderr.
#include "progress_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace strata::cli {

std::string duration_text(double seconds) {
    const auto whole = static_cast<long>(seconds + 0.5);
    return whole >= 3600 ? fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60)
                         : fmt::format("{}:{:02}", whole / 60, whole % 60);
}

int terminal_columns() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

void redraw_line(const std::string& text) {
    // The text is ASCII: one byte, one column.
    const auto room = static_cast<std::size_t>(std::max(1, terminal_columns() - 1));
    fmt::print(stderr, "\r{}\x1b[K", text.substr(0, room));
    std::fflush(stderr);
}

void clear_line() {
    fmt::print(stderr, "\r\x1b[K");
    std::fflush(stderr);
}

}  // namespace strata::cli
