// read_image / write_image: libvips decode straight into shared memory, and
// atomic encode from it, carrying the source file's metadata.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <vips/vips8>

#include "strata/error.hpp"
#include "strata/image.hpp"
#include "image_stream.hpp"
#include "vips_io.hpp"

namespace strata {

namespace detail {

/// A 1x1 libvips image that only carries the source file's metadata fields.
struct image_metadata {
    vips::VImage carrier;
    double xres = 1;
    double yres = 1;
};

}  // namespace detail

namespace {

// Fields that describe pixels or the loader, not the picture: never copied.
bool is_structural(const char* name) {
    static const std::set<std::string, std::less<>> structural{
        "width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset",
        "xres", "yres", "filename", "vips-loader", "vips-sequential", "bits-per-sample", "palette-bit-depth",
        "interlaced", "jpeg-multiscan", "jpeg-chroma-subsample", "png-comment-0-", "heif-primary", "n-pages",
        "page-height"};
    return structural.contains(std::string_view(name));
}

std::shared_ptr<detail::image_metadata> keep_metadata(const vips::VImage& source) {
    auto metadata = std::make_shared<detail::image_metadata>();
    metadata->carrier = vips::VImage::black(1, 1).copy_memory();
    metadata->xres = source.xres();
    metadata->yres = source.yres();
    gchar** names = vips_image_get_fields(source.get_image());
    for (gchar** name = names; *name != nullptr; ++name) {
        if (is_structural(*name)) continue;
        GValue value{};
        if (vips_image_get(source.get_image(), *name, &value) == 0) {
            vips_image_set(metadata->carrier.get_image(), *name, &value);
            g_value_unset(&value);
        }
    }
    g_strfreev(names);
    return metadata;
}

void copy_metadata(const detail::image_metadata& metadata, vips::VImage& target) {
    gchar** names = vips_image_get_fields(metadata.carrier.get_image());
    for (gchar** name = names; *name != nullptr; ++name) {
        if (is_structural(*name)) continue;
        GValue value{};
        if (vips_image_get(metadata.carrier.get_image(), *name, &value) == 0) {
            vips_image_set(target.get_image(), *name, &value);
            g_value_unset(&value);
        }
    }
    g_strfreev(names);
}

VipsBandFormat vips_format(sample_type type) {
    switch (type) {
    case sample_type::u8: return VIPS_FORMAT_UCHAR;
    case sample_type::u16: return VIPS_FORMAT_USHORT;
    case sample_type::f32: return VIPS_FORMAT_FLOAT;
    }
    return VIPS_FORMAT_UCHAR;
}

// The interpretation a saver should see for pixels of this layout.
VipsInterpretation interpretation_for(const image_layout& layout) {
    const bool grey = layout.bands <= 2;
    if (layout.type == sample_type::u16) return grey ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16;
    return grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
}

}  // namespace

image::image(image_layout layout) : image(layout, shared_buffer(layout.bytes(), "strata-image")) {}

image::image(image_layout layout, shared_buffer pixels) : layout_(layout), pixels_(std::move(pixels)) {
    if (pixels_.size() < layout_.bytes()) throw error("image: pixel buffer smaller than its layout");
}

namespace detail {

struct image_reader::state {
    std::filesystem::path path;
    vips::VImage pixels;  // the file's pixels as strata lays them out, decoded on demand
    image target;
    vips::VImage memory;  // target's pixels as a libvips image
    VipsRegion* source_region = nullptr;
    VipsRegion* target_region = nullptr;
    int rows_read = 0;

    ~state() {
        if (target_region != nullptr) g_object_unref(target_region);
        if (source_region != nullptr) g_object_unref(source_region);
    }
};

image_reader::image_reader(const std::filesystem::path& path, const load_options& options)
    : state_(std::make_unique<state>()) {
    state_->path = path;
    vips::VImage source = open_image(path, options);
    try {
        if (options.autorotate && vips_image_get_orientation(source.get_image()) > 1) {
            // Turning needs random access: reopen without the sequential hint.
            source = open_image(path, options, false).autorot();
        }
        vips::VImage pixels = source;
        if (pixels.coding() != VIPS_CODING_NONE) pixels = pixels.colourspace(VIPS_INTERPRETATION_sRGB);
        if (pixels.interpretation() == VIPS_INTERPRETATION_CMYK) pixels = pixels.colourspace(VIPS_INTERPRETATION_sRGB);
        if (pixels.bands() > 4) {
            throw image_error(path, fmt::format("has {} bands; strata handles 1 to 4 (grey, grey + alpha, RGB, RGBA)",
                                                pixels.bands()));
        }
        const sample_type type = held_as(pixels.format());
        if (type == sample_type::f32) pixels = pixels.cast(VIPS_FORMAT_FLOAT);
        const image_layout layout{pixels.width(), pixels.height(), pixels.bands(), type};
        state_->pixels = pixels;
        state_->target = image(layout);
        state_->target.set_metadata(keep_metadata(source));
        // Decoding writes straight into the shared pages, through a region
        // over the whole of them.
        state_->memory = vips::VImage::new_from_memory(state_->target.pixels().data(), layout.bytes(), layout.width,
                                                       layout.height, layout.bands, vips_format(type));
        state_->source_region = vips_region_new(state_->pixels.get_image());
        state_->target_region = vips_region_new(state_->memory.get_image());
        const VipsRect whole{0, 0, layout.width, layout.height};
        if (vips_region_image(state_->target_region, &whole) != 0) throw vips::VError();
    } catch (const vips::VError& e) {
        throw image_error(path, vips_failure_reason(e, path));
    }
}

image_reader::~image_reader() = default;

const image_layout& image_reader::layout() const noexcept { return state_->target.layout(); }

const image& image_reader::target() const noexcept { return state_->target; }

int image_reader::rows_read() const noexcept { return state_->rows_read; }

void image_reader::read_until(int y_end) {
    y_end = std::min(y_end, layout().height);
    if (y_end <= state_->rows_read) return;
    // A few hundred KB at a time: decoders fill their own buffer of the
    // requested size before it is copied, and a small one stays in cache.
    const int chunk = std::max(16, static_cast<int>((256 << 10) / std::max<std::size_t>(1, layout().row_bytes())));
    while (state_->rows_read < y_end) {
        const VipsRect rows{0, state_->rows_read, layout().width, std::min(chunk, y_end - state_->rows_read)};
        if (vips_region_prepare_to(state_->source_region, state_->target_region, &rows, rows.left, rows.top) != 0) {
            throw image_error(state_->path, vips_failure_reason(vips::VError(), state_->path));
        }
        state_->rows_read += rows.height;
    }
}

}  // namespace detail

image read_image(const std::filesystem::path& path, const load_options& options) {
    detail::image_reader reader(path, options);
    reader.read_until(reader.layout().height);
    return reader.target();
}

namespace {

// The optional inputs of a saver operation: the format options it accepts.
std::vector<std::string> saver_options(VipsObject* saver) {
    std::vector<std::string> names;
    vips_argument_map(
        saver,
        [](VipsObject*, GParamSpec* spec, VipsArgumentClass* argument, VipsArgumentInstance*, void* out, void*) -> void* {
            const auto flags = argument->flags;
            if ((flags & VIPS_ARGUMENT_INPUT) != 0 && (flags & VIPS_ARGUMENT_REQUIRED) == 0 &&
                (flags & VIPS_ARGUMENT_DEPRECATED) == 0) {
                static_cast<std::vector<std::string>*>(out)->emplace_back(g_param_spec_get_name(spec));
            }
            return nullptr;
        },
        &names, nullptr);
    std::sort(names.begin(), names.end());
    return names;
}

// The accepted range of a numeric saver option, checked here because GLib
// would only print a warning and ignore the value.
void check_range(GParamSpec* spec, const std::string& option, const std::string& value) {
    double low = 0;
    double high = 0;
    if (G_IS_PARAM_SPEC_INT(spec)) {
        low = G_PARAM_SPEC_INT(spec)->minimum;
        high = G_PARAM_SPEC_INT(spec)->maximum;
    } else if (G_IS_PARAM_SPEC_UINT(spec)) {
        low = G_PARAM_SPEC_UINT(spec)->minimum;
        high = G_PARAM_SPEC_UINT(spec)->maximum;
    } else if (G_IS_PARAM_SPEC_DOUBLE(spec)) {
        low = G_PARAM_SPEC_DOUBLE(spec)->minimum;
        high = G_PARAM_SPEC_DOUBLE(spec)->maximum;
    } else if (G_IS_PARAM_SPEC_BOOLEAN(spec)) {
        static const std::set<std::string, std::less<>> spellings{"true", "false", "1", "0", "yes", "no", "on", "off"};
        if (!spellings.contains(value)) {
            throw usage_error(fmt::format("format option '{}': '{}' is not accepted; accepted: true or false", option, value));
        }
        return;
    } else {
        return;
    }
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    const bool whole = !G_IS_PARAM_SPEC_DOUBLE(spec);
    if (value.empty() || *end != '\0' || number < low || number > high || (whole && number != std::floor(number))) {
        throw usage_error(fmt::format("format option '{}': '{}' is not accepted; accepted: {} {:g} to {:g}", option,
                                      value, whole ? "a whole number from" : "a number from", low, high));
    }
}

// Every "name=value" (or bare "name", for a true flag) of `options`, set on
// a fresh saver for `path` so that libvips parses and checks it.
void check_format_options(const std::filesystem::path& path, const std::vector<std::string>& options) {
    if (options.empty()) return;
    const char* saver_type = vips_foreign_find_save(path.c_str());
    if (saver_type == nullptr) {
        vips_error_clear();
        return;  // no saver at all: reported on its own
    }
    const std::string saver_name = vips_nickname_find(g_type_from_name(saver_type));
    VipsOperation* saver = vips_operation_new(saver_name.c_str());
    if (saver == nullptr) {
        vips_error_clear();
        return;
    }
    std::unique_ptr<VipsOperation, decltype(&g_object_unref)> owner(saver, g_object_unref);
    const std::vector<std::string> accepted = saver_options(VIPS_OBJECT(saver));
    for (const auto& option : options) {
        const auto equals = option.find('=');
        std::string name = option.substr(0, equals);
        std::replace(name.begin(), name.end(), '_', '-');  // GLib's canonical spelling
        if (name.empty() || std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
            throw usage_error(fmt::format("format option '{}': {} has no option '{}'; accepted: {}", option,
                                          saver_name, name, fmt::join(accepted, ", ")));
        }
        if (option.find_first_of(",[]") != std::string::npos) {
            throw usage_error(fmt::format("format option '{}': one option per flag, without ',' '[' or ']'", option));
        }
        GParamSpec* spec = nullptr;
        VipsArgumentClass* argument = nullptr;
        VipsArgumentInstance* instance = nullptr;
        if (vips_object_get_argument(VIPS_OBJECT(saver), name.c_str(), &spec, &argument, &instance) == 0) {
            if (equals != std::string::npos) {
                check_range(spec, option, option.substr(equals + 1));
            } else if (!G_IS_PARAM_SPEC_BOOLEAN(spec)) {
                throw usage_error(fmt::format("format option '{}': needs a value, as in {}=VALUE", option, option));
            }
        }
        if (vips_object_set_from_string(VIPS_OBJECT(saver), option.c_str()) != 0) {
            std::string reason = vips_error_buffer();
            vips_error_clear();
            while (!reason.empty() && reason.back() == '\n') reason.pop_back();
            throw usage_error(fmt::format("format option '{}': not a valid value for {}'s '{}'{}", option, saver_name,
                                          name, reason.empty() ? "" : " (" + reason + ")"));
        }
    }
}

}  // namespace

void check_write_options(const std::filesystem::path& path, const write_options& options) {
    detail::ensure_vips();
    if (options.quality < 0 || options.quality > 100) {
        throw usage_error(fmt::format("quality {} is out of range; accepted: 1 to 100 (0: the format's default)",
                                      options.quality));
    }
    check_format_options(path, options.format_options);
}

bool can_write(const std::filesystem::path& path) {
    detail::ensure_vips();
    const bool found = vips_foreign_find_save(path.c_str()) != nullptr;
    vips_error_clear();
    return found;
}

namespace {

// Permissions a new file gets: 0666 less the umask, as open() would give.
// Read from /proc, as umask() can only be asked by changing it, which would
// race with other threads creating files.
mode_t file_mode() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("Umask:")) return 0666 & ~static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
    }
    return 0644;  // no /proc: the usual umask, 022
}

// Gives the complete file behind `fd` the name `path`: linked straight to
// it when it is free; otherwise linked under a hidden temporary name, then
// renamed over `path` (rename replaces atomically, link never replaces).
void publish(int fd, const std::filesystem::path& path, const std::filesystem::path& folder) {
    const std::string proc_path = fmt::format("/proc/self/fd/{}", fd);
    if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return;
    if (errno != EEXIST) throw image_error(path, fmt::format("cannot create: {}", std::strerror(errno)));
    for (int attempt = 0; attempt < 100; ++attempt) {
        const auto temporary = folder / fmt::format(".{}.strata-{}-{}{}", path.stem().string(), ::getpid(),
                                                    ::random() % 1000000, path.extension().string());
        if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, temporary.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            if (errno == EEXIST) continue;
            throw image_error(path, fmt::format("cannot create: {}", std::strerror(errno)));
        }
        if (::rename(temporary.c_str(), path.c_str()) != 0) {
            const int saved = errno;
            ::unlink(temporary.c_str());
            throw image_error(path, fmt::format("cannot create: {}", std::strerror(saved)));
        }
        return;
    }
    throw image_error(path, "cannot create: no free temporary name");
}

// A libvips target over a descriptor that remembers the first failed write,
// so that no failure can be lost between the saver and strata.
struct descriptor_sink {
    int fd;
    int error = 0;

    vips::VTarget target() {
        VipsTargetCustom* custom = vips_target_custom_new();
        g_signal_connect(custom, "write", G_CALLBACK(on_write), this);
        g_signal_connect(custom, "read", G_CALLBACK(on_read), this);
        g_signal_connect(custom, "seek", G_CALLBACK(on_seek), this);
        return vips::VTarget(VIPS_TARGET(custom));
    }

    static gint64 on_write(VipsTargetCustom*, const void* data, gint64 length, descriptor_sink* sink) {
        if (sink->error != 0) return -1;
        const auto* bytes = static_cast<const char*>(data);
        gint64 left = length;
        while (left > 0) {
            const ssize_t n = ::write(sink->fd, bytes, static_cast<std::size_t>(left));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                sink->error = n < 0 ? errno : EIO;
                return -1;
            }
            bytes += n;
            left -= n;
        }
        return length;
    }
    static gint64 on_read(VipsTargetCustom*, void* buffer, gint64 length, descriptor_sink* sink) {
        ssize_t n = 0;
        do {
            n = ::read(sink->fd, buffer, static_cast<std::size_t>(length));
        } while (n < 0 && errno == EINTR);
        return n;
    }
    static gint64 on_seek(VipsTargetCustom*, gint64 offset, int whence, descriptor_sink* sink) {
        return ::lseek(sink->fd, offset, whence);
    }
};

// Encodes into an unnamed file (O_TMPFILE) in the destination folder and
// names it only once complete: nothing is ever visible half-written, even
// if this process is killed. False when the folder's file system or the
// format cannot do it (then write_named is used).
bool write_unnamed(const vips::VImage& out, const std::filesystem::path& path, const std::filesystem::path& folder,
                   const std::string& bracket) {
    const std::string suffix = path.extension().string() + bracket;
    if (vips_foreign_find_save_target(suffix.c_str()) == nullptr) {
        vips_error_clear();
        return false;
    }
    // Read and write: some savers (TIFF) read back what they wrote.
    const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);  // less the umask
    if (fd < 0) {
        if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) return false;
        throw image_error(path, fmt::format("cannot create a file in {}: {}", folder.string(), std::strerror(errno)));
    }
    descriptor_sink sink{fd};
    try {
        vips::VTarget target = sink.target();
        out.write_to_target(suffix.c_str(), target);
    } catch (const vips::VError& e) {
        ::close(fd);
        if (sink.error != 0) throw image_error(path, fmt::format("cannot write: {}", std::strerror(sink.error)));
        throw image_error(path, detail::vips_failure_reason(e, path));
    }
    // A saver may drop the error of its last write (libvips' PNG saver
    // does): the sink's own record decides.
    if (sink.error != 0) {
        ::close(fd);
        vips_error_clear();
        throw image_error(path, fmt::format("cannot write: {}", std::strerror(sink.error)));
    }
    try {
        publish(fd, path, folder);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return true;
}

// Encodes into a hidden temporary file beside the destination, with its
// extension so the saver is the same, and renames it when complete.
void write_named(const vips::VImage& out, const std::filesystem::path& path, const std::filesystem::path& folder,
                 const std::string& bracket) {
    std::string pattern = (folder / ("." + path.stem().string() + ".strata-XXXXXX" + path.extension().string())).string();
    const int fd = ::mkostemps(pattern.data(), static_cast<int>(path.extension().string().size()), O_CLOEXEC);
    if (fd < 0) throw image_error(path, fmt::format("cannot create a file in {}: {}", folder.string(), std::strerror(errno)));
    ::close(fd);
    const std::string temporary = pattern;
    try {
        out.write_to_file((temporary + bracket).c_str());
    } catch (const vips::VError& e) {
        ::unlink(temporary.c_str());
        throw image_error(path, detail::vips_failure_reason(e, temporary));
    }
    ::chmod(temporary.c_str(), file_mode());
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temporary.c_str());
        throw image_error(path, fmt::format("cannot create: {}", std::strerror(saved)));
    }
}

}  // namespace

namespace {

// Generates rows of a memory image (the start function's region on it) once
// `ready` says they are complete.
int generate_when_ready(VipsRegion* out, void* sequence, void*, void* ready, gboolean*) {
    auto* source = static_cast<VipsRegion*>(sequence);
    const VipsRect* rows = &out->valid;
    if (!(*static_cast<const detail::rows_ready*>(ready))(rows->top, rows->top + rows->height)) {
        vips_error("strata", "rows %d to %d of the image were never produced", rows->top, rows->top + rows->height);
        return -1;
    }
    if (vips_region_prepare(source, rows) != 0) return -1;
    return vips_region_region(out, source, rows, rows->left, rows->top);
}

}  // namespace

void detail::write_image_when_ready(const image& picture, const std::filesystem::path& path,
                                    const write_options& options, const rows_ready& ready) {
    ensure_vips();
    if (!can_write(path)) {
        throw image_error(path, fmt::format("no image format for the extension '{}' (try .jpg, .png, .webp, .tif)",
                                            path.extension().string()));
    }
    try {
        check_write_options(path, options);
    } catch (const usage_error& e) {
        throw image_error(path, e.what());
    }
    const auto& layout = picture.layout();
    vips::VImage memory = vips::VImage::new_from_memory(picture.pixels().data(), layout.bytes(), layout.width,
                                                              layout.height, layout.bands, vips_format(layout.type));
    vips::VImage out = memory;
    if (ready) {
        VipsImage* gated = vips_image_new();
        if (vips_image_pipelinev(gated, VIPS_DEMAND_STYLE_THINSTRIP, memory.get_image(), nullptr) != 0 ||
            vips_image_generate(gated, vips_start_one, generate_when_ready, vips_stop_one, memory.get_image(),
                                const_cast<rows_ready*>(&ready)) != 0) {
            g_object_unref(gated);
            throw image_error(path, vips_failure_reason(vips::VError(), path));
        }
        out = vips::VImage(gated);
    }
    // `out` is this function's own image, not an operation's (which libvips
    // caches and shares): its header is set in place.
    out.get_image()->Type = interpretation_for(layout);
    if (picture.metadata()) {
        out.get_image()->Xres = picture.metadata()->xres;
        out.get_image()->Yres = picture.metadata()->yres;
        if (!options.strip_metadata) copy_metadata(*picture.metadata(), out);
    }

    std::vector<std::string> settings;
    if (options.quality > 0) settings.push_back(fmt::format("Q={}", options.quality));
    if (options.strip_metadata) settings.emplace_back("strip");
    settings.insert(settings.end(), options.format_options.begin(), options.format_options.end());
    const std::string bracket = settings.empty() ? "" : fmt::format("[{}]", fmt::join(settings, ","));
    const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    if (!write_unnamed(out, path, folder, bracket)) write_named(out, path, folder, bracket);
}

void write_image(const image& picture, const std::filesystem::path& path, const write_options& options) {
    detail::write_image_when_ready(picture, path, options, nullptr);
}

}  // namespace strata
