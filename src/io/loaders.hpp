// Internal: which libvips loader reads a file. Loaders libvips marks
// untrusted (ImageMagick, PDF, SVG, FITS, Matlab, ...) are blocked unless a
// load asks for one by name, and a file whose content is not what its
// extension says is read only by a trusted loader.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <vips/vips8>

#include "strata/image_info.hpp"

namespace strata::detail {

/// Blocks every untrusted libvips loader in this process (once); called by
/// ensure_vips. A loader named in load_options::allowed_loaders is unblocked
/// when a load asks for it.
void block_untrusted_loaders();

/// The file loaders libvips marks untrusted (or all of them), by nickname.
std::vector<std::string> loader_names(bool untrusted_only);

/// What reads a file, and whether its name agrees.
struct chosen_loader {
    std::string nickname;    ///< e.g. "pngload"
    std::string format;      ///< e.g. "PNG"
    bool name_matches = true;  ///< the file's extension is one this loader reads
    bool untrusted = false;    ///< libvips marks it unsafe (it was allowed by name)
};

/// The loader for `path`: the first one, in libvips' priority order, that
/// recognises the file's first bytes among the trusted loaders and those
/// `options` allows (untrusted loaders that are not allowed are never
/// consulted). nullopt when none does.
std::optional<chosen_loader> find_loader(const std::filesystem::path& path, const load_options& options);

/// find_loader, or image_error saying why nothing may read the file: its
/// format's loader is blocked (and the flag that allows it), or its content
/// is not what its name says and only an untrusted loader would read it.
chosen_loader choose_loader(const std::filesystem::path& path, const load_options& options);

/// How much smaller than stored a loader decodes (shrink-on-load); loaders
/// that cannot ignore it.
struct load_reduction {
    int jpeg_shrink = 1;  ///< jpegload's shrink: 1, 2, 4 or 8
    double scale = 1;     ///< webpload's scale, at most 1
    int level = 0;        ///< the page of a TIFF pyramid to read instead of its full size
    bool operator==(const load_reduction&) const = default;
};

/// Runs loader `loader` on `path` with libvips' access and fail-on options,
/// outside libvips' operation cache (a file that changed is read again).
/// Throws vips::VError.
/// `page` and `all_pages` are passed to loaders that read pages (as "page"
/// and "n" = -1); others ignore them.
vips::VImage run_loader(const chosen_loader& loader, const std::filesystem::path& path, VipsAccess access,
                        VipsFailOn fail, const load_reduction& reduction = {}, int page = 0, bool all_pages = false);

}  // namespace strata::detail
