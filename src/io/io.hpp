// Internal: what batch asks of image input and output, without libvips.
#pragma once

#include <filesystem>
#include <utility>

#include "strata/image.hpp"

namespace strata::detail {

/// True if a loader `options` allows recognises the first bytes of `path`.
bool recognised_image(const std::filesystem::path& path, const load_options& options);

/// Width and height of the image file at `path`, from its header (no pixel
/// is decoded, no limit applies). Throws image_error.
std::pair<int, int> image_size(const std::filesystem::path& path);

/// Starts the codecs (once) and lets each decode or encode in this process
/// use at most `threads` threads of its own; 0 restores their default (one
/// per core).
void limit_codec_threads(unsigned threads);

}  // namespace strata::detail
