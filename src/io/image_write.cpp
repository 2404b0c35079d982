// write_image: encode from shared memory into a file that appears only when
// complete, carrying the source file's metadata; saver options checked first.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <atomic>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <vips/vips8>

#include "strata/detail/output_file.hpp"
#include "strata/error.hpp"
#include "strata/image.hpp"
#include "image_write.hpp"
#include "metadata.hpp"
#include "vips_io.hpp"

namespace strata {

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

// Rows handed to an encoder, and whether any it asked for never came: a
// saver may finish and report success although its pixels failed (libvips'
// PNG saver on a small image does), so the file is published only if not.
template <class Rows>
struct gated {
    const Rows& rows;
    std::atomic<bool> refused{false};

    // What an encoder's generate function says when `rows` refuse.
    int refuse(int top, int bottom) {
        refused = true;
        vips_error("strata", "rows %d to %d of the image were never produced", top, bottom);
        return -1;
    }
};

// Generates rows of a memory image (the start function's region on it) once
// `ready` says they are complete.
int generate_when_ready(VipsRegion* out, void* sequence, void*, void* gate, gboolean*) {
    auto* source = static_cast<VipsRegion*>(sequence);
    auto& ready = *static_cast<gated<detail::rows_ready>*>(gate);
    const VipsRect* rows = &out->valid;
    if (!ready.rows(rows->top, rows->top + rows->height)) return ready.refuse(rows->top, rows->top + rows->height);
    if (vips_region_prepare(source, rows) != 0) return -1;
    return vips_region_region(out, source, rows, rows->left, rows->top);
}

// An image of this module's own over `source` (a memory image, or an
// operation's result, whose header libvips shares through its cache), its
// rows handed over once `ready` says they are complete. `ready` must outlive it.
vips::VImage gated_image(const vips::VImage& source, gated<detail::rows_ready>& ready, const std::filesystem::path& shown) {
    VipsImage* image = vips_image_new();
    if (vips_image_pipelinev(image, VIPS_DEMAND_STYLE_THINSTRIP, source.get_image(), nullptr) != 0 ||
        vips_image_generate(image, vips_start_one, generate_when_ready, vips_stop_one, source.get_image(), &ready) != 0) {
        g_object_unref(image);
        throw image_error(shown, detail::vips_failure_reason(vips::VError(), shown));
    }
    return vips::VImage(image);
}

// Generates rows from a row_source: copied out of it once they are ready,
// and then reported taken.
int generate_from_source(VipsRegion* out, void*, void* gate, void*, gboolean*) {
    auto& gated_source = *static_cast<gated<detail::row_source>*>(gate);
    const detail::row_source& source = gated_source.rows;
    const VipsRect* rows = &out->valid;
    const int bottom = rows->top + rows->height;
    // Each row is asked for once, in whole or (under a crop) in part.
    if (!source.ready(rows->top, bottom)) return gated_source.refuse(rows->top, bottom);
    const auto pixel = static_cast<std::size_t>(VIPS_IMAGE_SIZEOF_PEL(out->im));
    const auto left = static_cast<std::size_t>(rows->left) * pixel;
    const auto bytes = static_cast<std::size_t>(rows->width) * pixel;
    for (int y = rows->top; y < bottom; ++y) std::memcpy(VIPS_REGION_ADDR(out, rows->left, y), source.row(y) + left, bytes);
    source.taken(rows->top, bottom);
    return 0;
}

// Encodes `out` into a new file at `place`, named only once complete.
void encode_to(const vips::VImage& out, const detail::output_place& place, const std::string& bracket, bool overwrite,
               const std::atomic<bool>* refused) {
    const std::string suffix = std::filesystem::path(place.name).extension().string();
    const std::string format = suffix + bracket;
    // Savers without a target (FITS, say), and the .v saver, whose target
    // must have a file name, open a path themselves.
    const char* target_saver = vips_foreign_find_save_target(format.c_str());
    vips_error_clear();
    const bool to_target = target_saver != nullptr && std::string_view(target_saver) != "VipsForeignSaveVipsTarget";
    detail::pending_file file(place, suffix, !to_target);
    if (to_target) {
        descriptor_sink sink{file.fd()};
        try {
            vips::VTarget target = sink.target();
            out.write_to_target(format.c_str(), target);
        } catch (const vips::VError& e) {
            if (sink.error != 0) {
                vips_error_clear();
                throw image_error(place.shown, fmt::format("cannot write: {}", std::strerror(sink.error)));
            }
            throw image_error(place.shown, detail::vips_failure_reason(e, place.shown));
        }
        // A saver may drop the error of its last write (libvips' PNG saver
        // does): the sink's own record decides.
        if (sink.error != 0) {
            vips_error_clear();
            throw image_error(place.shown, fmt::format("cannot write: {}", std::strerror(sink.error)));
        }
    } else {
        try {
            out.write_to_file((file.path() + bracket).c_str());
        } catch (const vips::VError& e) {
            throw image_error(place.shown, detail::vips_failure_reason(e, file.path()));
        }
    }
    if (refused != nullptr && refused->load()) {
        throw image_error(place.shown, "the encoder finished without every row (the rows were never produced)");
    }
    file.publish(overwrite);
}

}  // namespace

namespace {

// Sets the header of `out` (this function's own image, not an operation's,
// which libvips caches and shares) and encodes it to `place`.
void encode_with_metadata(vips::VImage out, const image_layout& layout,
                          const std::shared_ptr<const detail::image_metadata>& metadata,
                          const detail::output_place& place, const write_options& options,
                          const std::atomic<bool>* refused = nullptr) {
    out.get_image()->Type = detail::interpretation_for(layout);
    if (metadata) {
        out.get_image()->Xres = metadata->xres;
        out.get_image()->Yres = metadata->yres;
        if (!options.strip_metadata) detail::copy_metadata(*metadata, out);
        // Pages one above another: savers that hold pages write each (frame
        // delays and loop count come with the metadata).
        const int page_height = metadata->page_height;
        if (page_height > 0 && page_height < layout.height && layout.height % page_height == 0) {
            vips_image_set_int(out.get_image(), VIPS_META_PAGE_HEIGHT, page_height);
        }
    }
    std::vector<std::string> settings;
    if (options.quality > 0) settings.push_back(fmt::format("Q={}", options.quality));
    if (options.strip_metadata) settings.emplace_back("strip");
    settings.insert(settings.end(), options.format_options.begin(), options.format_options.end());
    const std::string bracket = settings.empty() ? "" : fmt::format("[{}]", fmt::join(settings, ","));
    encode_to(out, place, bracket, options.overwrite, refused);
}

// Refuses, before any work, an output no saver writes or options it does not take.
void check_output(const detail::output_place& place, const write_options& options) {
    detail::ensure_vips();
    const std::filesystem::path& path = place.shown;
    if (!can_write(place.name)) {
        throw image_error(path, fmt::format("no image format for the extension '{}' (try .jpg, .png, .webp, .tif)",
                                            path.extension().string()));
    }
    try {
        check_write_options(place.name, options);
    } catch (const usage_error& e) {
        throw image_error(path, e.what());
    }
}

}  // namespace

void detail::write_rows_when_ready(const image_layout& layout, const std::shared_ptr<const image_metadata>& metadata,
                                   const row_source& rows, const output_place& place, const write_options& options,
                                   const filter_chain& then) {
    check_output(place, options);
    gated<row_source> source{rows};
    VipsImage* produced = vips_image_new();
    vips_image_init_fields(produced, layout.width, layout.height, layout.bands, vips_format(layout.type),
                           VIPS_CODING_NONE, interpretation_for(layout), 1.0, 1.0);
    if (vips_image_pipelinev(produced, VIPS_DEMAND_STYLE_THINSTRIP, nullptr) != 0 ||
        vips_image_generate(produced, nullptr, generate_from_source, nullptr, &source, nullptr) != 0) {
        g_object_unref(produced);
        throw image_error(place.shown, vips_failure_reason(vips::VError(), place.shown));
    }
    vips::VImage out(produced);
    image_layout out_layout = layout;
    static const rows_ready every_row = [](int, int) { return true; };
    gated<rows_ready> own{every_row};
    if (!then.steps.empty()) {
        try {
            out = gated_image(apply_edge_steps(out, layout, then), own, place.shown);
        } catch (const vips::VError& e) {
            throw image_error(place.shown, vips_failure_reason(e, place.shown));
        }
        out_layout.width = out.width();
        out_layout.height = out.height();
    }
    encode_with_metadata(out, out_layout, metadata, place, options, &source.refused);
}

bool detail::saver_writes_in_order(const std::string& name) {
    ensure_vips();
    const char* saver = vips_foreign_find_save(name.c_str());
    if (saver == nullptr) {
        vips_error_clear();
        return false;
    }
    static const std::set<std::string, std::less<>> in_order{"jpegsave", "pngsave", "tiffsave", "vipssave", "ppmsave"};
    return in_order.contains(vips_nickname_find(g_type_from_name(saver)));
}

void detail::write_image_when_ready(const image& picture, const output_place& place, const write_options& options,
                                    const rows_ready& ready) {
    check_output(place, options);
    const auto& layout = picture.layout();
    vips::VImage memory = vips::VImage::new_from_memory(picture.pixels().data(), layout.bytes(), layout.width,
                                                        layout.height, layout.bands, vips_format(layout.type));
    gated<rows_ready> gate{ready};
    encode_with_metadata(ready ? gated_image(memory, gate, place.shown) : memory, layout, picture.metadata(), place,
                         options, &gate.refused);
}

void write_image(const image& picture, const std::filesystem::path& path, const write_options& options) {
    detail::write_image_when_ready(picture, detail::place_of(path), options, nullptr);
}

}  // namespace strata
