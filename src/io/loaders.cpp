// Loader choice: libvips' own untrusted list blocked, sniffing done only by
// the loaders allowed to read the file.
#include "loaders.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/error.hpp"
#include "vips_io.hpp"

namespace strata::detail {

namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& text, std::string_view end) { return text.size() >= end.size() && text.ends_with(end); }

// A loader of files (not of buffers or sources) that can be instantiated.
struct loader_class {
    std::string nickname;
    std::string type_name;
    VipsForeignLoadClass* load = nullptr;
    VipsForeignClass* foreign = nullptr;
    bool untrusted = false;
};

// Every file loader, in libvips' priority order.
const std::vector<loader_class>& file_loaders() {
    static const std::vector<loader_class> loaders = [] {
        std::vector<loader_class> found;
        vips_foreign_map(
            "VipsForeignLoad",
            [](void* item, void* out, void*) -> void* {
                auto* foreign = static_cast<VipsForeignClass*>(item);
                auto* object = VIPS_OBJECT_CLASS(foreign);
                const std::string nickname = object->nickname;
                if (ends_with(nickname, "_buffer") || ends_with(nickname, "_source") || ends_with(nickname, "_base")) {
                    return nullptr;
                }
                const auto flags = VIPS_OPERATION_CLASS(foreign)->flags;
                static_cast<std::vector<loader_class>*>(out)->push_back(
                    {nickname, g_type_name(G_TYPE_FROM_CLASS(foreign)), VIPS_FOREIGN_LOAD_CLASS(foreign), foreign,
                     (flags & VIPS_OPERATION_UNTRUSTED) != 0});
                return nullptr;
            },
            &found, nullptr);
        return found;
    }();
    return loaders;
}

// "pngload" -> "PNG", "magickload" -> "MAGICK".
std::string format_of(const std::string& nickname) {
    std::string name = nickname.substr(0, nickname.find("load"));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    return name;
}

bool reads_extension(const loader_class& loader, const fs::path& path) {
    return loader.foreign->suffs != nullptr && vips_filename_suffix_match(path.c_str(), loader.foreign->suffs) != 0;
}

bool allowed(const loader_class& loader, const load_options& options) {
    return !loader.untrusted ||
           std::find(options.allowed_loaders.begin(), options.allowed_loaders.end(), loader.nickname) !=
               options.allowed_loaders.end();
}

// Unblocks an allowed untrusted loader for this process (once).
void unblock(const loader_class& loader) {
    static std::mutex mutex;
    static std::set<std::string> unblocked;
    std::lock_guard lock(mutex);
    if (unblocked.insert(loader.type_name).second) vips_operation_block_set(loader.type_name.c_str(), FALSE);
}

}  // namespace

void block_untrusted_loaders() {
    static std::once_flag once;
    std::call_once(once, [] {
        for (const auto& loader : file_loaders()) {
            if (loader.untrusted) vips_operation_block_set(loader.type_name.c_str(), TRUE);
        }
        // Their buffer and source variants too: everything below the
        // untrusted loaders' base classes.
        vips_foreign_map(
            "VipsForeignLoad",
            [](void* item, void*, void*) -> void* {
                auto* foreign = static_cast<VipsForeignClass*>(item);
                if ((VIPS_OPERATION_CLASS(foreign)->flags & VIPS_OPERATION_UNTRUSTED) != 0) {
                    vips_operation_block_set(g_type_name(G_TYPE_FROM_CLASS(foreign)), TRUE);
                }
                return nullptr;
            },
            nullptr, nullptr);
    });
}

std::vector<std::string> loader_names(bool untrusted_only) {
    ensure_vips();
    std::vector<std::string> names;
    for (const auto& loader : file_loaders()) {
        if (loader.untrusted || !untrusted_only) names.push_back(loader.nickname);
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<chosen_loader> find_loader(const fs::path& path, const load_options& options) {
    ensure_vips();
    for (const auto& loader : file_loaders()) {
        if (!allowed(loader, options)) continue;  // an untrusted sniffer is never run
        const bool recognised = loader.load->is_a != nullptr ? loader.load->is_a(path.c_str()) != 0
                                                             : reads_extension(loader, path);
        vips_error_clear();
        if (recognised) {
            return chosen_loader{loader.nickname, format_of(loader.nickname), reads_extension(loader, path),
                                 loader.untrusted};
        }
    }
    return std::nullopt;
}

chosen_loader choose_loader(const fs::path& path, const load_options& options) {
    const auto found = find_loader(path, options);
    const auto& loaders = file_loaders();
    const auto named = std::find_if(loaders.begin(), loaders.end(), [&](const loader_class& loader) {
        return !allowed(loader, options) && reads_extension(loader, path);
    });
    if (found) {
        const auto chosen =
            std::find_if(loaders.begin(), loaders.end(), [&](const loader_class& l) { return l.nickname == found->nickname; });
        if (chosen->untrusted) {
            if (!found->name_matches) {
                throw image_error(path, fmt::format("its content is {}, not what its name says; strata reads a file "
                                                    "whose name does not match its content only with a trusted "
                                                    "loader, and {} is not one (rename it to match, if you trust it)",
                                                    found->format, found->nickname));
            }
            unblock(*chosen);
        }
        return *found;
    }
    if (named != loaders.end()) {
        throw image_error(path, fmt::format("{} files are read by {}, which libvips marks unsafe for untrusted input, "
                                            "so strata does not use it; --allow-loader {} reads them (only for files "
                                            "you trust)",
                                            format_of(named->nickname), named->nickname, named->nickname));
    }
    const auto expected = std::find_if(loaders.begin(), loaders.end(),
                                       [&](const loader_class& loader) { return reads_extension(loader, path); });
    if (expected != loaders.end()) {
        throw image_error(path, fmt::format("not an image strata reads: its content is not {}, as its name says, nor "
                                            "any format of libvips' trusted loaders",
                                            format_of(expected->nickname)));
    }
    throw image_error(path, "not an image, or a format this libvips cannot read with its trusted loaders");
}

vips::VImage run_loader(const chosen_loader& loader, const fs::path& path, VipsAccess access, VipsFailOn fail,
                        const load_reduction& reduction, int page, bool all_pages) {
    VipsOperation* operation = vips_operation_new(loader.nickname.c_str());
    if (operation == nullptr) throw vips::VError();
    std::unique_ptr<VipsOperation, decltype(&g_object_unref)> owner(operation, g_object_unref);
    if (vips_object_set(VIPS_OBJECT(operation), "filename", path.c_str(), "access", access, "fail_on", fail, nullptr) != 0) {
        throw vips::VError();
    }
    if (loader.nickname == "jpegload" && reduction.jpeg_shrink > 1 &&
        vips_object_set(VIPS_OBJECT(operation), "shrink", reduction.jpeg_shrink, nullptr) != 0) {
        throw vips::VError();
    }
    if (loader.nickname == "webpload" && reduction.scale < 1 &&
        vips_object_set(VIPS_OBJECT(operation), "scale", reduction.scale, nullptr) != 0) {
        throw vips::VError();
    }
    const auto takes = [&](const char* name) {
        GParamSpec* spec = nullptr;
        VipsArgumentClass* argument = nullptr;
        VipsArgumentInstance* instance = nullptr;
        return vips_object_get_argument(VIPS_OBJECT(operation), name, &spec, &argument, &instance) == 0;
    };
    if (reduction.level > 0) {  // a smaller copy of page 0, not a page of its own
        page = reduction.level;
        all_pages = false;
    }
    if (page > 0 && takes("page") && vips_object_set(VIPS_OBJECT(operation), "page", page, nullptr) != 0) {
        throw vips::VError();
    }
    if (all_pages && takes("n") && vips_object_set(VIPS_OBJECT(operation), "n", -1, nullptr) != 0) {
        throw vips::VError();
    }
    // Built directly, not through the cache: a cached load would hand back
    // the image of a file as it was when first read.
    if (vips_object_build(VIPS_OBJECT(operation)) != 0) {
        vips_object_unref_outputs(VIPS_OBJECT(operation));
        throw vips::VError();
    }
    VipsImage* out = nullptr;
    g_object_get(operation, "out", &out, nullptr);
    vips_object_unref_outputs(VIPS_OBJECT(operation));
    return vips::VImage(out);  // takes the reference g_object_get gave
}

}  // namespace strata::detail
