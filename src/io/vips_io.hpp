// Internal: the libvips side of image reading, shared by the image sources.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include <vips/vips8>

#include "strata/image.hpp"
#include "strata/image_info.hpp"
#include "strata/pipeline.hpp"
#include "loaders.hpp"

namespace strata::detail {

/// Starts libvips once per process. Throws strata::error if it cannot.
void ensure_vips();
/// How strata holds samples of a libvips format: 8- and 16-bit unsigned as
/// they are, anything else as float.
sample_type held_as(VipsBandFormat format);

/// Opens `path` lazily (header only) after checking it exists, is readable,
/// is not empty and has a loader it may use (see choose_loader); enforces
/// the pixel and memory limits. Throws image_error. `sequential` opens for
/// one top-to-bottom pass (cheaper); turning an image upright needs random
/// access. `used`, if given, receives the loader. `reduction` asks the
/// loader to decode smaller; the limits are those of what it decodes, and
/// `check_limits` false leaves them to the caller (who looks at the header
/// before deciding on a reduction).
vips::VImage open_image(const std::filesystem::path& path, const load_options& options, bool sequential = true,
                        chosen_loader* used = nullptr, const load_reduction& reduction = {}, bool check_limits = true);
/// "has 3 pages; --page takes 0 to 2": `page` is past the last of `pages`.
image_error page_past_end(const std::filesystem::path& path, int pages);
/// open_image for a file already opened with `loader`: the loader is not
/// chosen again.
vips::VImage reopen_image(const std::filesystem::path& path, const chosen_loader& loader, const load_options& options,
                          bool sequential = true, const load_reduction& reduction = {}, bool check_limits = true);
/// The pixel and memory limits of `options` on an image as `path` decodes
/// to: image_error (the file is over the limit) if it is over.
void check_limits(const std::filesystem::path& path, const vips::VImage& image, const load_options& options);

/// What a file is at one moment, to tell whether it changed while it was
/// read: device, inode, size and modification time.
struct file_version {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    long long modified_ns = 0;
    bool operator==(const file_version&) const = default;
};
/// The version of `path` now (size -1 if it cannot be looked at).
file_version version_of(const std::filesystem::path& path);
/// Throws image_error if `path` is no longer `before`: a file cut short or
/// rewritten while it was decoded gives pixels that are not its own.
void check_unchanged(const std::filesystem::path& path, const file_version& before);

/// The reason libvips gave for `failure`, without its domain prefixes and the
/// quoted file name. Clears libvips' error buffer.
std::string vips_failure_reason(const vips::VError& failure, const std::filesystem::path& path);

/// True for a geometry step a streamed image can take row by row in its
/// decoder or encoder, through libvips, giving the pixels strata's filter
/// gives: crop (extract_area) and flop (a flip left to right).
bool streams_at_edge(const chain_step& step);

/// How many steps from the first on stream at an edge.
std::size_t leading_edge_steps(const filter_chain& chain);

/// Where the steps that stream at an edge and end the chain start: at most
/// the end, at least `first`.
std::size_t trailing_edge_steps_from(const filter_chain& chain, std::size_t first);

/// The rows of an image of `layout` that the crops among `steps` (each one
/// that streams_at_edge) keep: [first, second).
std::pair<int, int> rows_kept(const filter_chain& steps, const image_layout& layout);

/// `image` through every step of `steps`, each one that streams_at_edge.
/// A crop that does not fit fails as the crop filter does.
vips::VImage apply_edge_steps(vips::VImage image, const image_layout& layout, const filter_chain& steps);

}  // namespace strata::detail
