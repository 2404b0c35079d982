// Internal: what batch asks of image input and output, without libvips.
#pragma once

#include <filesystem>

#include "strata/image.hpp"

namespace strata::detail {

/// True if a loader `options` allows recognises the first bytes of `path`.
bool recognised_image(const std::filesystem::path& path, const load_options& options);

/// Starts the codecs (once) and lets each decode or encode in this process
/// use at most `threads` threads of its own; 0 restores their default (one
/// per core).
void limit_codec_threads(unsigned threads);

}  // namespace strata::detail
