// read_image: libvips decode straight into shared memory, row band by row
// band, carrying the source file's metadata.
#include <algorithm>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <vips/vips8>

#include "strata/error.hpp"
#include "strata/image.hpp"
#include "image_stream.hpp"
#include "metadata.hpp"
#include "vips_io.hpp"

namespace strata {

image::image(image_layout layout) : image(layout, shared_buffer(layout.bytes(), "strata-image")) {}

image::image(image_layout layout, shared_buffer pixels) : layout_(layout), pixels_(std::move(pixels)) {
    if (pixels_.size() < layout_.bytes()) throw error("image: pixel buffer smaller than its layout");
}

namespace detail {

struct image_reader::state {
    std::filesystem::path path;
    file_version version;  // of the file as it was opened
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
    state_->version = version_of(path);
    chosen_loader loader;
    vips::VImage source = open_image(path, options, true, &loader);
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
        auto metadata = keep_metadata(source);
        metadata->loader = loader.nickname;
        metadata->format = loader.format;
        metadata->name_matches = loader.name_matches;
        state_->target.set_metadata(std::move(metadata));
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
    if (state_->rows_read == layout().height) check_unchanged(state_->path, state_->version);
}

}  // namespace detail

image read_image(const std::filesystem::path& path, const load_options& options) {
    detail::image_reader reader(path, options);
    reader.read_until(reader.layout().height);
    return reader.target();
}

}  // namespace strata
