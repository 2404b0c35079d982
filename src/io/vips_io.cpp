// Reading image files with libvips, and turning libvips' failures into image_error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <vips/vips8>

#include "strata/detail/mapped_files.hpp"
#include "strata/error.hpp"
#include "strata/memory.hpp"
#include "strata/image.hpp"
#include "loaders.hpp"
#include "metadata.hpp"
#include "vips_io.hpp"

namespace strata::detail {

namespace {

void discard_log_message(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

VipsFailOn to_vips(fail_on policy) {
    switch (policy) {
    case fail_on::none: return VIPS_FAIL_ON_NONE;
    case fail_on::truncated: return VIPS_FAIL_ON_TRUNCATED;
    case fail_on::error: return VIPS_FAIL_ON_ERROR;
    case fail_on::warning: return VIPS_FAIL_ON_WARNING;
    }
    return VIPS_FAIL_ON_TRUNCATED;
}

// "VipsJpeg: Premature end of input file\n" -> "premature end of input file".
// libvips prefixes each line with the domain that raised it and often quotes
// the file name, which image_error already carries.
std::string clean_vips_message(std::string_view raw, const std::filesystem::path& path) {
    std::vector<std::string> reasons;
    const std::string quoted = fmt::format("\"{}\"", path.string());
    while (!raw.empty()) {
        const auto end = raw.find('\n');
        std::string line(raw.substr(0, end));
        raw = end == std::string_view::npos ? std::string_view{} : raw.substr(end + 1);

        const auto colon = line.find(": ");
        if (colon != std::string::npos && line.find(' ') > colon) {
            line.erase(0, colon + 2);
        }
        for (const std::string_view drop : {std::string_view{"file "}, std::string_view{}}) {
            const std::string needle = std::string(drop) + quoted + " ";
            if (const auto at = line.find(needle); at != std::string::npos) {
                line.erase(at, needle.size());
                break;
            }
        }
        if (line.empty()) continue;
        if (line.size() > 1 && std::isupper(static_cast<unsigned char>(line[0])) &&
            std::islower(static_cast<unsigned char>(line[1]))) {
            line[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[0])));
        }
        if (std::find(reasons.begin(), reasons.end(), line) == reasons.end()) {
            reasons.push_back(std::move(line));
        }
    }
    // A failed write comes as "write error", "unix error: <errno text>", then
    // the same failure again from each layer above: keep the cause alone.
    for (std::size_t i = 0; i + 1 < reasons.size(); ++i) {
        const bool write_failed = reasons[i] == "write error" || reasons[i] == "write failed";
        constexpr std::string_view unix_error = "unix error: ";
        if (write_failed && reasons[i + 1].starts_with(unix_error) && reasons[i + 1].find("Unknown error") == std::string::npos) {
            return "cannot write: " + reasons[i + 1].substr(unix_error.size());
        }
    }
    if (reasons.empty()) return "libvips could not decode it";
    return fmt::format("{}", fmt::join(reasons, "; "));
}

// Failures that are clearer when found before libvips sees the file; the
// loader that may read it.
chosen_loader check_readable(const std::filesystem::path& path, const load_options& options) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) throw image_error(path, "no such file");
    if (std::filesystem::is_directory(status)) throw image_error(path, "is a directory, not an image file");
    if (!std::filesystem::is_regular_file(status)) throw image_error(path, "is not a regular file");

    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw image_error(path, fmt::format("cannot open: {}", std::strerror(errno)));
    ::close(fd);
    if (std::filesystem::file_size(path, ec) == 0) throw image_error(path, "empty file (0 bytes)");
    return choose_loader(path, options);
}

}  // namespace


sample_type held_as(VipsBandFormat format) {
    return format == VIPS_FORMAT_UCHAR ? sample_type::u8 : format == VIPS_FORMAT_USHORT ? sample_type::u16 : sample_type::f32;
}

void ensure_vips() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (VIPS_INIT("strata") != 0) {
            throw error(fmt::format("cannot start libvips: {}", vips_error_buffer()));
        }
        // Decoder warnings would go to stderr; strata reports failures through
        // exceptions instead, following the fail_on policy.
        g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, discard_log_message, nullptr);
        block_untrusted_loaders();
    });
    // Every time: a forked worker starts with default signal actions. libvips
    // maps some inputs (.v files; the WebP and GIF loaders map theirs); one
    // cut short then fails its decode on check_unchanged instead of SIGBUS.
    guard_mapped_files();
}

file_version version_of(const std::filesystem::path& path) {
    struct stat facts {};
    if (::stat(path.c_str(), &facts) != 0) return {};
    return {facts.st_dev, facts.st_ino, facts.st_size,
            static_cast<long long>(facts.st_mtim.tv_sec) * 1'000'000'000LL + facts.st_mtim.tv_nsec};
}

void check_unchanged(const std::filesystem::path& path, const file_version& before) {
    const file_version now = version_of(path);
    if (now == before) return;
    throw image_error(path, now.size != before.size
                                ? fmt::format("changed while it was read (its size went from {} to {} bytes); nothing "
                                              "was written for it",
                                              before.size, now.size)
                                : "changed while it was read; nothing was written for it");
}

vips::VImage open_image(const std::filesystem::path& path, const load_options& options, bool sequential,
                        chosen_loader* used, const load_reduction& reduction, bool limits) {
    ensure_vips();
    const chosen_loader loader = check_readable(path, options);
    if (used != nullptr) *used = loader;
    return reopen_image(path, loader, options, sequential, reduction, limits);
}

image_error page_past_end(const std::filesystem::path& path, int pages) {
    return image_error(path, pages == 1 ? std::string("has 1 page; --page takes only 0")
                                        : fmt::format("has {} pages; --page takes 0 to {}", pages, pages - 1));
}

vips::VImage reopen_image(const std::filesystem::path& path, const chosen_loader& loader, const load_options& options,
                          bool sequential, const load_reduction& reduction, bool limits) {
    vips::VImage image;
    try {
        image = run_loader(loader, path, sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM, to_vips(options.fail),
                           reduction, options.page, options.all_pages);
    } catch (const vips::VError& e) {
        vips_error_clear();
        if (options.page > 0) {  // past the last page? say how many there are
            try {
                const int pages = vips_image_get_n_pages(run_loader(loader, path, VIPS_ACCESS_SEQUENTIAL,
                                                                    to_vips(options.fail)).get_image());
                if (options.page >= pages) {
                    throw page_past_end(path, pages);
                }
            } catch (const vips::VError&) {
                vips_error_clear();
            }
        }
        throw image_error(path, clean_vips_message(e.what(), path));
    }
    if (limits) check_limits(path, image, options);
    return image;
}

void check_limits(const std::filesystem::path& path, const vips::VImage& image, const load_options& options) {
    const auto pixels = static_cast<std::uint64_t>(image.width()) * static_cast<std::uint64_t>(image.height());
    if (pixels > options.max_pixels) {
        throw image_error(path, fmt::format("{}x{} is {} pixels, over the limit of {} (raise the pixel limit to read it)",
                                            image.width(), image.height(), pixels, options.max_pixels));
    }
    // As strata will hold the pixels (more than 4 bands are refused later).
    const std::uint64_t bytes =
        image_layout{image.width(), image.height(), std::min(image.bands(), 4), held_as(image.format())}.bytes();
    if (options.max_memory != 0 && bytes > options.max_memory) {
        throw image_error(path, fmt::format("{}x{} with {} band{} decodes to {}, over the memory limit of {} ({})",
                                            image.width(), image.height(), image.bands(), image.bands() == 1 ? "" : "s",
                                            strata::describe_bytes(bytes), strata::describe_bytes(options.max_memory),
                                            options.max_memory_origin.empty() ? "raise the memory limit to read it"
                                                                              : options.max_memory_origin));
    }
}

std::string vips_failure_reason(const vips::VError& failure, const std::filesystem::path& path) {
    vips_error_clear();
    return clean_vips_message(failure.what(), path);
}

bool streams_at_edge(const chain_step& step) {
    const std::string_view name = step.filter->name;
    return name == "crop" || name == "flop";
}

std::size_t leading_edge_steps(const filter_chain& chain) {
    std::size_t count = 0;
    while (count < chain.steps.size() && streams_at_edge(chain.steps[count])) ++count;
    return count;
}

std::pair<int, int> rows_kept(const filter_chain& steps, const image_layout& layout) {
    int top = 0;
    image_layout current = layout;
    for (const chain_step& step : steps.steps) {
        if (step.filter->name == "crop") top += step.args.integer("y");
        current = step.filter->output_layout(current, step.args);
    }
    return {top, top + current.height};
}

std::size_t trailing_edge_steps_from(const filter_chain& chain, std::size_t first) {
    std::size_t last = chain.steps.size();
    while (last > first && streams_at_edge(chain.steps[last - 1])) --last;
    return last;
}

vips::VImage apply_edge_steps(vips::VImage image, const image_layout& layout, const filter_chain& steps) {
    image_layout current = layout;
    for (const chain_step& step : steps.steps) {
        if (!streams_at_edge(step)) throw usage_error(fmt::format("{} does not stream", step.filter->name));
        // The filter's own declaration checks the rectangle, with its words.
        const image_layout next = step.filter->output_layout(current, step.args);
        if (step.filter->name == "crop") {
            image = image.extract_area(step.args.integer("x"), step.args.integer("y"), next.width, next.height);
        } else {
            image = image.flip(VIPS_DIRECTION_HORIZONTAL);
        }
        current = next;
    }
    return image;
}

}  // namespace strata::detail

namespace strata {

void preload_libraries() {
    // With VIPS_MAX_THREADS set, libvips starts its threads when it starts,
    // and a pool could then not fork: each worker starts libvips instead.
    if (std::getenv("VIPS_MAX_THREADS") != nullptr) return;
    detail::ensure_vips();
    // The first lookup of an operation by name initialises every operation
    // class; the first setNumThreads starts OpenCV's parallel runtime (no
    // thread yet). Done here, neither is repeated in each forked worker.
    (void)vips_type_find("VipsOperation", "jpegload");
    cv::setNumThreads(cv::getNumThreads());
}

}  // namespace strata
