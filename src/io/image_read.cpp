// read_image: libvips decode straight into shared memory, row band by row
// band, carrying the source file's metadata.
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>
#include <vips/vips8>

#include "strata/error.hpp"
#include "strata/image.hpp"
#include "strata/memory.hpp"
#include "strata/pipeline.hpp"
#include "../filtering/area_shrink.hpp"
#include "../filtering/chain.hpp"
#include "image_read.hpp"
#include "metadata.hpp"
#include "ring.hpp"
#include "vips_io.hpp"

namespace strata {

image::image(image_layout layout) : image(layout, shared_buffer(layout.bytes(), "strata-image")) {}

image::image(image_layout layout, shared_buffer pixels) : layout_(layout), pixels_(std::move(pixels)) {
    if (pixels_.size() < layout_.bytes()) throw error("image: pixel buffer smaller than its layout");
}

namespace detail {

namespace {

// The size and sample layout of a page.
struct page_size {
    int width;
    int height;
    int bands;
    VipsBandFormat format;
    bool operator==(const page_size&) const = default;
};

// More levels than this is not a pyramid of an image libvips can hold (as
// vipsthumbnail bounds its search).
constexpr int pyramid_levels_at_most = 29;

// The levels of a TIFF pyramid, largest first: each page the one before
// halved (rounded either way, and smaller), with the same samples. Empty if
// the file is not one; `first` is page 0. A page that cannot be read ends
// the search: the file is then read as pages, as before.
std::vector<page_size> pyramid_levels(const std::filesystem::path& path, const chosen_loader& loader,
                                      const load_options& options, const vips::VImage& first, int pages) {
    if (loader.nickname != "tiffload" || pages < 2 || pages > pyramid_levels_at_most || options.page != 0) return {};
    std::vector<page_size> levels{{first.width(), first.height(), first.bands(), first.format()}};
    const auto halved = [](int before, int now) { return now < before && (now == before / 2 || now == (before + 1) / 2); };
    load_options one = options;
    one.all_pages = false;
    for (int page = 1; page < pages; ++page) {
        one.page = page;
        vips::VImage header;
        try {
            header = reopen_image(path, loader, one, true, {}, false);
        } catch (const image_error&) {
            return {};
        }
        const page_size& before = levels.back();
        if (!halved(before.width, header.width()) || !halved(before.height, header.height()) ||
            header.bands() != before.bands || header.format() != before.format) {
            return {};
        }
        levels.push_back({header.width(), header.height(), header.bands(), header.format()});
    }
    return levels;
}

// What to ask `loader` for so that `step` still has at least a factor 2 to
// shrink by itself, as vipsthumbnail leaves it (a block shrink in the
// decoder is crisper than an area average). Of a pyramid (`levels`, largest
// first), the smallest level still at least the step's output size, as
// vipsthumbnail picks it: its levels are averages already.
load_reduction reduction_for(const std::string& loader, const image_layout& stored, const chain_step& step,
                             const std::vector<page_size>& levels) {
    // A decoder's shrink is a block average: only for a step that averages.
    const auto& params = step.filter->params;
    if (std::any_of(params.begin(), params.end(), [](const param_spec& p) { return p.name == "interpolation"; }) &&
        step.args.choice("interpolation") != "area") {
        return {};
    }
    const image_layout out = step.filter->output_layout(stored, step.args);
    const double shrink = std::min(static_cast<double>(stored.width) / out.width,
                                   static_cast<double>(stored.height) / out.height);
    load_reduction reduction;
    if (!levels.empty()) {
        for (std::size_t level = levels.size(); level-- > 1;) {
            if (levels[level].width >= out.width && levels[level].height >= out.height) {
                reduction.level = static_cast<int>(level);
                break;
            }
        }
    } else if (loader == "jpegload") {
        reduction.jpeg_shrink = shrink >= 16 ? 8 : shrink >= 8 ? 4 : shrink >= 4 ? 2 : 1;
    } else if (loader == "webpload" && shrink > 2) {
        reduction.scale = 2 / shrink;
    }
    return reduction;
}

// `step` as it runs on a reduced decode of a `stored` image: a size given as
// a scale of the stored image becomes that size in pixels. (A box is a box
// whatever the input: the step sizes its output from what it is given, as
// vipsthumbnail does after its shrink-on-load.)
chain_step for_reduced_input(const chain_step& step, const image_layout& stored) {
    if (step.args.number("width") != 0 || step.args.number("height") != 0) return step;
    const image_layout out = step.filter->output_layout(stored, step.args);
    std::vector<double> values = step.args.values();
    const auto& params = step.filter->params;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& name = params[i].name;
        if (name == "width") values[i] = out.width;
        if (name == "height") values[i] = out.height;
        if (name == "upscale") values[i] = 1;
        if (name == "scale") values[i] = params[i].default_value;
        if (name == "fit") {
            values[i] = static_cast<double>(std::find(params[i].choices.begin(), params[i].choices.end(), "fill") -
                                            params[i].choices.begin());
        }
    }
    return {step.filter, filter_args(&params, std::move(values)), step.position};
}

// `image` in the colour space load_options::colour_profile asks for: CMYK
// always converted (through its own profile, or libvips' CMYK profile), RGB
// with a profile that is not sRGB when asked to; 16-bit kept.
vips::VImage managed_colour(vips::VImage image, const load_options& options, std::string& note) {
    if (image.coding() != VIPS_CODING_NONE) image = image.colourspace(VIPS_INTERPRETATION_sRGB);
    const bool cmyk = image.interpretation() == VIPS_INTERPRETATION_CMYK;
    const bool profiled = vips_image_get_typeof(image.get_image(), VIPS_META_ICC_NAME) != 0;
    const std::string description = icc_description(image);
    std::string target = options.colour_profile;
    // sRGB in, sRGB out: by its description ("sRGB IEC61966-2.1", "sRGB
    // built-in", ...); a profile without one is converted to be sure.
    const bool srgb = description.find("sRGB") != std::string::npos && description.find("inear") == std::string::npos;
    if (target == "srgb" && (!profiled || srgb)) target.clear();
    if (!cmyk && image.bands() < 3) {  // grey stays grey
        if (!target.empty() && target != "srgb") {
            note = fmt::format("grey, so left grey (--profile converts RGB and CMYK images to {})",
                               std::filesystem::path(target).filename().string());
        }
        target.clear();
    }
    if (cmyk && target.empty()) target = "srgb";
    if (target.empty()) return image;
    auto* settings = vips::VImage::option()
                         ->set("embedded", true)
                         ->set("depth", image.format() == VIPS_FORMAT_USHORT ? 16 : 8);
    if (!profiled) settings->set("input_profile", cmyk ? "cmyk" : "srgb");
    return image.icc_transform(target.c_str(), settings);
}

// True if `loader` decodes `image` top to bottom holding only a few rows
// (not a progressive JPEG or an interlaced PNG, which libvips decodes whole).
bool reads_in_order(const std::string& loader, const vips::VImage& image) {
    static const std::set<std::string, std::less<>> in_order{"jpegload", "pngload", "tiffload", "vipsload", "ppmload"};
    if (!in_order.contains(loader)) return false;
    int interlaced = 0;
    return vips_image_get_typeof(image.get_image(), "interlaced") == 0 ||
           (vips_image_get_int(image.get_image(), "interlaced", &interlaced) == 0 && interlaced == 0);
}

// What an area shrink made as rows come may hold (a block of rows for a
// large whole factor): more than this, and the image is held whole.
constexpr std::size_t area_reducer_bytes_at_most = std::size_t{64} << 20;

// True unless `chain`, after the crops and flops that open it, goes on with
// a geometry step that is no area shrink of what they leave of `stored`, or
// one that would hold more than area_reducer_bytes_at_most: what a decoder
// can make row by row.
bool opening_streams(const filter_chain& chain, image_layout stored) {
    const std::size_t lead = leading_edge_steps(chain);
    if (lead == chain.steps.size() || chain.steps[lead].filter->kind != filter_kind::geometry) return true;
    for (std::size_t i = 0; i < lead; ++i) stored = chain.steps[i].filter->output_layout(stored, chain.steps[i].args);
    const chain_step& step = chain.steps[lead];
    if (!step.filter->shrinks_by_area) return false;
    const std::optional<area_shrink> shrink = step.filter->shrinks_by_area(stored, step.args);
    return shrink && area_reducer::held_bytes(stored, *shrink) <= area_reducer_bytes_at_most;
}

// Decodes rows [top, top + rows) of `source`, laid out as `layout`, into
// `memory` (the rows one after another).
void decode_rows(VipsRegion* source, const image_layout& layout, int top, int rows, std::byte* memory,
                 const std::filesystem::path& path) {
    vips::VImage piece = vips::VImage::new_from_memory(memory, static_cast<std::size_t>(rows) * layout.row_bytes(),
                                                       layout.width, rows, layout.bands, vips_format(layout.type));
    VipsRegion* region = vips_region_new(piece.get_image());
    const VipsRect all{0, 0, layout.width, rows};
    const VipsRect wanted{0, top, layout.width, rows};
    const bool read = vips_region_image(region, &all) == 0 && vips_region_prepare_to(source, region, &wanted, 0, 0) == 0;
    g_object_unref(region);
    if (!read) throw image_error(path, vips_failure_reason(vips::VError(), path));
}

// Rows decoded at a time: a few hundred KB, as decoders fill a buffer of
// the requested size before it is copied, and a small one stays in cache.
int rows_at_a_time(const image_layout& layout) {
    return std::max(16, static_cast<int>((256 << 10) / std::max<std::size_t>(1, layout.row_bytes())));
}

// Every stage's output against the limits, from the header alone: the
// chain runs on each of `pages` pages of `layout`.
void check_stage_limits(const std::filesystem::path& path, const filter_chain& chain, image_layout layout, int pages,
                        const load_options& options) {
    for (std::size_t i = 0; i < chain.steps.size(); ++i) {
        const auto& step = chain.steps[i];
        layout = step.filter->output_layout(layout, step.args);
        const auto pixels = static_cast<std::uint64_t>(layout.width) * static_cast<std::uint64_t>(layout.height) *
                            static_cast<std::uint64_t>(pages);
        const std::uint64_t bytes = layout.bytes() * static_cast<std::uint64_t>(pages);
        const auto what = [&] {
            return fmt::format("step {} of the chain ({}) would make {}x{}{}", i + 1, step.filter->name, layout.width,
                               layout.height, pages > 1 ? fmt::format(" x {} pages", pages) : "");
        };
        if (pixels > options.max_pixels) {
            throw over_limit(path, fmt::format("{}, {} pixels, over the limit of {} (--max-pixels); nothing was decoded",
                                               what(), pixels, options.max_pixels));
        }
        if (options.max_memory != 0 && bytes > options.max_memory) {
            throw over_limit(path, fmt::format("{} with {} band{}, {}, over the memory limit of {} ({}); nothing was "
                                               "decoded",
                                               what(), layout.bands, layout.bands == 1 ? "" : "s",
                                               describe_bytes(bytes), describe_bytes(options.max_memory),
                                               options.max_memory_origin.empty() ? "--max-memory"
                                                                                 : options.max_memory_origin));
        }
    }
}

}  // namespace

struct image_reader::state {
    std::filesystem::path path;
    file_version version;  // of the file as it was opened
    vips::VImage pixels;  // the file's pixels as strata lays them out, decoded on demand
    image target;
    vips::VImage memory;  // target's pixels as a libvips image
    VipsRegion* source_region = nullptr;
    VipsRegion* target_region = nullptr;
    int rows_read = 0;
    std::atomic<int>* counter = nullptr;  // count_rows_in
    int last_row = -1;                    // read_no_further_than; -1: the image's height
    filter_chain chain;  // the chain to run on what is decoded
    double shrink = 1;   // how much smaller than stored it is decoded
    int pages = 1;       // held one above another
    bool streams = false;
    std::optional<row_ring> ring;  // read_into: where rows go instead of target
    // An area shrink that opens the chain, made as rows are decoded: the
    // decoded rows wait in `decoded` (rows [next_decoded, rows_decoded) of
    // it not yet shrunk), each `pixels_layout` wide.
    std::optional<area_reducer> reducer;
    image_layout pixels_layout;
    std::vector<std::byte> decoded;
    int rows_decoded = 0;
    int next_decoded = 0;
    image_layout layout;
    std::shared_ptr<const image_metadata> metadata;

    ~state() {
        if (target_region != nullptr) g_object_unref(target_region);
        if (source_region != nullptr) g_object_unref(source_region);
    }
};

image_reader::image_reader(const std::filesystem::path& path, const load_options& requested, const filter_chain& chain,
                           bool may_stream)
    : state_(std::make_unique<state>()) {
    load_options options = requested;
    state_->path = path;
    state_->version = version_of(path);
    state_->chain = chain;
    chosen_loader loader;
    const bool may_shrink = options.shrink_on_load && !chain.steps.empty() && chain.steps.front().filter->shrinks_on_load;
    // One page first, to see what the file holds.
    load_options one_page = options;
    one_page.all_pages = false;
    vips::VImage source = open_image(path, one_page, true, &loader, {}, false);
    try {
        const int pages_in_file = std::max(1, vips_image_get_n_pages(source.get_image()));
        // A loader without pages (JPEG, PNG) would ignore --page.
        if (options.page >= pages_in_file) throw page_past_end(path, pages_in_file);
        // A TIFF pyramid is one picture at several sizes, not pages.
        const std::vector<page_size> levels = pyramid_levels(path, loader, options, source, pages_in_file);
        const bool pyramid = !levels.empty();
        // Every page when asked, unless libvips finds they differ (TIFF pages
        // of other sizes or bands cannot be held one above another).
        bool pages_differ = false;
        bool all_pages = options.all_pages && pages_in_file > 1 && !pyramid;
        if (all_pages) {
            try {
                source = reopen_image(path, loader, options, true, {}, false);
            } catch (const image_error& e) {
                if (std::string_view(e.what()).find("differs from page") == std::string_view::npos) throw;
                pages_differ = true;
                all_pages = false;
            }
        }
        const load_options& reading = all_pages ? options : one_page;
        // Several pages are held one above another, each a page high.
        const bool paged = vips_image_get_page_height(source.get_image()) < source.height();
        const bool turned = options.autorotate && !paged && vips_image_get_orientation(source.get_image()) > 1;
        const bool swapped = turned && vips_image_get_orientation(source.get_image()) >= 5;
        const image_layout stored{swapped ? source.height() : source.width(),
                                  swapped ? source.width() : vips_image_get_page_height(source.get_image()),
                                  std::min(source.bands(), 4), held_as(source.format())};
        // Read top to bottom, a few rows at a time: held to the limits of
        // what streams, as the rows behind the reader can go.
        state_->streams = may_stream && !turned && !paged && reads_in_order(loader.nickname, source) &&
                          opening_streams(chain, stored);
        if (state_->streams) {
            // The limits of what streams, for any reopening too (at a reduced size).
            for (load_options* limits : {&options, &one_page}) {
                limits->max_pixels = options.max_streamed_pixels;
                limits->max_memory = 0;
            }
        }
        load_reduction reduction;
        if (may_shrink) {
            // A turned picture is sized upright, its levels as stored: the
            // full size is read then.
            reduction = reduction_for(loader.nickname, stored, chain.steps.front(),
                                      turned ? std::vector<page_size>{} : levels);
            if (reduction != load_reduction{}) source = reopen_image(path, loader, reading, true, reduction);
        }
        if (reduction == load_reduction{}) check_limits(path, source, options);  // else checked on reopening
        if (turned) {
            // Turning needs random access: reopen without the sequential hint.
            source = reopen_image(path, loader, reading, false, reduction).autorot();
        }
        if (reduction != load_reduction{}) {
            state_->shrink = static_cast<double>(stored.width) / source.width();
            state_->chain.steps.front() = for_reduced_input(chain.steps.front(), stored);
        }
        std::string colour_note;
        vips::VImage pixels = managed_colour(source, options, colour_note);
        if (pixels.bands() > 4) {
            throw image_error(path, fmt::format("has {} bands; strata handles 1 to 4 (grey, grey + alpha, RGB, RGBA)",
                                                pixels.bands()));
        }
        const sample_type type = held_as(pixels.format());
        if (type == sample_type::f32) pixels = pixels.cast(VIPS_FORMAT_FLOAT);
        image_layout layout{pixels.width(), pixels.height(), pixels.bands(), type};
        const int page_height = vips_image_get_page_height(source.get_image());
        state_->pages = layout.height / page_height;
        check_stage_limits(path, state_->chain, {layout.width, page_height, layout.bands, type}, state_->pages, options);
        if (state_->streams) {
            // Crops and flops that open the chain are the decoder's: what
            // streams is only what they keep.
            if (const std::size_t lead = leading_edge_steps(state_->chain); lead > 0) {
                pixels = apply_edge_steps(pixels, layout, sub_chain(state_->chain, 0, lead));
                state_->chain = sub_chain(state_->chain, lead, state_->chain.steps.size());
                layout = {pixels.width(), pixels.height(), pixels.bands(), type};
            }
            // So is an area shrink next (opening_streams): rows are averaged
            // as they are decoded.
            if (!state_->chain.steps.empty() && state_->chain.steps.front().filter->kind == filter_kind::geometry) {
                const chain_step& step = state_->chain.steps.front();
                const std::optional<area_shrink> shrink = step.filter->shrinks_by_area(layout, step.args);
                if (!shrink) throw usage_error(fmt::format("image_reader: {} does not stream", step.filter->name));
                state_->pixels_layout = layout;
                state_->reducer.emplace(layout, *shrink);
                state_->chain = sub_chain(state_->chain, 1, state_->chain.steps.size());
                layout = state_->reducer->layout();
            }
        }
        state_->pixels = pixels;
        state_->layout = layout;
        auto metadata = keep_metadata(pixels);  // with the profile converted to, if any
        // Pixels turned upright are written with orientation 1; left as they
        // were (--keep-orientation), they keep the tag that says how to turn them.
        if (turned) mark_upright(*metadata);
        metadata->loader = loader.nickname;
        metadata->format = loader.format;
        metadata->name_matches = loader.name_matches;
        metadata->pages_in_file = pyramid ? 1 : pages_in_file;
        metadata->pages_differ = pages_differ;
        metadata->colour_note = colour_note;
        metadata->page_height = state_->pages > 1 ? page_height : 0;
        state_->metadata = std::move(metadata);
        state_->source_region = vips_region_new(state_->pixels.get_image());
        if (!state_->streams) {
            // Decoding writes straight into the shared pages, through a
            // region over the whole of them. (What streams goes to a ring.)
            state_->target = image(layout);
            state_->target.set_metadata(state_->metadata);
            state_->memory = vips::VImage::new_from_memory(state_->target.pixels().data(), layout.bytes(), layout.width,
                                                           layout.height, layout.bands, vips_format(type));
            state_->target_region = vips_region_new(state_->memory.get_image());
            const VipsRect whole{0, 0, layout.width, layout.height};
            if (vips_region_image(state_->target_region, &whole) != 0) throw vips::VError();
        }
    } catch (const vips::VError& e) {
        throw image_error(path, vips_failure_reason(e, path));
    }
}

image_reader::~image_reader() = default;

const filter_chain& image_reader::chain() const noexcept { return state_->chain; }

double image_reader::shrink() const noexcept { return state_->shrink; }

int image_reader::pages() const noexcept { return state_->pages; }

bool image_reader::streams() const noexcept { return state_->streams; }

const image_layout& image_reader::layout() const noexcept { return state_->layout; }

const std::shared_ptr<const image_metadata>& image_reader::metadata() const noexcept { return state_->metadata; }

const image& image_reader::target() const noexcept { return state_->target; }

int image_reader::rows_read() const noexcept { return state_->rows_read; }

void image_reader::read_into(const row_ring& ring) {
    if (!state_->streams || ring.layout() != layout()) throw usage_error("image_reader: a ring for an image that does not stream");
    state_->ring = ring;
}

void image_reader::read_until(int y_end) {
    y_end = std::min(y_end, layout().height);
    if (y_end <= state_->rows_read) return;
    const int rows_before = state_->rows_read;
    if (state_->reducer) {
        read_shrunk_until(y_end);
    } else {
        const int chunk = rows_at_a_time(layout());
        while (state_->rows_read < y_end) {
            VipsRect rows{0, state_->rows_read, layout().width, std::min(chunk, y_end - state_->rows_read)};
            if (state_->ring) {
                rows.height = std::min(rows.height, state_->ring->rows());
                decode_rows(state_->source_region, layout(), rows.top, rows.height, state_->ring->row(rows.top),
                            state_->path);
            } else if (state_->target_region == nullptr) {
                throw usage_error("image_reader: a file that streams is read into a ring (read_into)");
            } else if (vips_region_prepare_to(state_->source_region, state_->target_region, &rows, rows.left,
                                              rows.top) != 0) {
                throw image_error(state_->path, vips_failure_reason(vips::VError(), state_->path));
            }
            state_->rows_read += rows.height;
            if (state_->counter != nullptr) state_->counter->store(state_->rows_read, std::memory_order_relaxed);
        }
    }
    const int last = state_->last_row >= 0 ? std::min(state_->last_row, layout().height) : layout().height;
    if (state_->rows_read >= last && rows_before < last) check_unchanged(state_->path, state_->version);
}

void image_reader::read_shrunk_until(int y_end) {
    if (!state_->ring) throw usage_error("image_reader: a file that streams is read into a ring (read_into)");
    area_reducer& reducer = *state_->reducer;
    const image_layout& from = state_->pixels_layout;
    const auto into_ring = [&](int y) { return state_->ring->row(y); };
    while (reducer.rows_made() < y_end) {
        if (state_->next_decoded == state_->rows_decoded) {
            const int top = reducer.rows_taken();
            const int rows = std::min(rows_at_a_time(from), from.height - top);
            if (rows <= 0) throw usage_error("image_reader: the area shrink ran out of rows");
            state_->decoded.resize(static_cast<std::size_t>(rows) * from.row_bytes());
            decode_rows(state_->source_region, from, top, rows, state_->decoded.data(), state_->path);
            state_->rows_decoded = rows;
            state_->next_decoded = 0;
        }
        reducer.take(state_->decoded.data() + static_cast<std::size_t>(state_->next_decoded++) * from.row_bytes(),
                     into_ring);
        if (state_->counter != nullptr) state_->counter->store(reducer.rows_made(), std::memory_order_relaxed);
    }
    state_->rows_read = reducer.rows_made();
}

void image_reader::read_no_further_than(int rows) noexcept { state_->last_row = rows; }

void image_reader::count_rows_in(std::atomic<int>* rows_read) noexcept { state_->counter = rows_read; }

}  // namespace detail

image read_image(const std::filesystem::path& path, const load_options& options) {
    detail::image_reader reader(path, options, {});
    reader.read_until(reader.layout().height);
    return reader.target();
}

}  // namespace strata
