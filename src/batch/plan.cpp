// plan_batch: walk the inputs, name every output, and refuse a run that
// would read its own outputs, overwrite an input, or write one file twice.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "strata/detail/output_tree.hpp"
#include "strata/batch.hpp"
#include "strata/error.hpp"
#include "../io/io.hpp"

namespace strata {

namespace fs = std::filesystem;

const char* to_string(item_status status) noexcept {
    switch (status) {
    case item_status::pending: return "pending";
    case item_status::converted: return "converted";
    case item_status::skipped: return "skipped";
    case item_status::failed: return "failed";
    case item_status::interrupted: return "interrupted";
    }
    return "unknown";
}

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// Extension without the dot, lower case.
std::string extension_of(const fs::path& path) {
    const std::string ext = path.extension().string();
    return ext.empty() ? "" : lower(ext.substr(1));
}

// Extensions of image files libvips (with its usual modules) reads. A file
// with one of these is an image to convert: if it does not decode, that is a
// failure to report. Other files are images only if libvips recognises their
// first bytes; otherwise they are skipped.
bool has_image_extension(const fs::path& path) {
    static const std::set<std::string, std::less<>> known{
        "jpg", "jpeg", "jpe", "jfif", "png", "webp", "tif", "tiff", "gif", "heic", "heif", "avif", "jxl", "jp2",
        "j2k", "jpx", "j2c", "bmp", "ppm", "pgm", "pbm", "pnm", "pfm", "hdr", "exr", "fits", "fit", "fts", "svg",
        "svgz", "v", "vips"};
    return known.contains(extension_of(path));
}

bool looks_like_image(const fs::path& path, const load_options& options) {
    return detail::recognised_image(path, options);
}

// The extension a --format value writes ("" for an unknown format).
std::string format_extension(const std::string& format) {
    static const std::map<std::string, std::string, std::less<>> extensions{
        {"jpeg", "jpg"}, {"jpg", "jpg"}, {"png", "png"}, {"webp", "webp"}, {"tiff", "tif"}, {"tif", "tif"},
        {"gif", "gif"}, {"heif", "heic"}, {"heic", "heic"}, {"avif", "avif"}, {"jxl", "jxl"}};
    const auto found = extensions.find(lower(format));
    return found == extensions.end() ? "" : found->second;
}

bool matches(const std::vector<std::string>& patterns, const fs::path& relative) {
    const std::string name = relative.filename().string();
    const std::string whole = relative.generic_string();
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
        const bool by_path = pattern.find('/') != std::string::npos;
        return ::fnmatch(pattern.c_str(), by_path ? whole.c_str() : name.c_str(), FNM_CASEFOLD | FNM_PERIOD) == 0;
    });
}

// One piece of a name template: literal text, or a field with its width.
struct template_piece {
    std::string text;
    bool field = false;
    int width = 0;
};

std::vector<template_piece> parse_template(const std::string& text) {
    static const std::set<std::string, std::less<>> fields{"stem", "ext", "srcext", "name", "dir", "index"};
    std::vector<template_piece> pieces;
    std::size_t at = 0;
    while (at < text.size()) {
        const auto open = text.find('{', at);
        if (open == std::string::npos) {
            pieces.push_back({text.substr(at)});
            break;
        }
        if (open > at) pieces.push_back({text.substr(at, open - at)});
        const auto close = text.find('}', open);
        if (close == std::string::npos) {
            throw usage_error(fmt::format("--name '{}': '{{' at {} is never closed", text, open + 1));
        }
        std::string field = text.substr(open + 1, close - open - 1);
        int width = 0;
        if (const auto colon = field.find(':'); colon != std::string::npos) {
            const std::string digits = field.substr(colon + 1);
            field.resize(colon);
            if (field != "index" || digits.empty() || digits.size() > 2 ||
                !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) {
                throw usage_error(fmt::format("--name '{}': '{{{}:{}}}': only {{index:N}} takes a width, N from 1 to 99",
                                              text, field, digits));
            }
            width = std::stoi(digits);
        }
        if (!fields.contains(field)) {
            throw usage_error(fmt::format("--name '{}': unknown field '{{{}}}'; fields: {{stem}} {{ext}} {{srcext}} "
                                          "{{name}} {{dir}} {{index}} {{index:N}}",
                                          text, field));
        }
        pieces.push_back({field, true, width});
        at = close + 1;
    }
    return pieces;
}

struct found_file {
    fs::path input;
    fs::path relative;  ///< to its input folder (the file name for a file given directly)
};

// Walks input folders in name order; records skipped entries as items.
class walker {
public:
    walker(const batch_options& options, std::vector<batch_item>& notes) : options_(options), notes_(notes) {}

    void walk(const fs::path& folder, const fs::path& relative) {
        struct stat info {};
        if (::stat(folder.c_str(), &info) == 0 && !visited_.insert({info.st_dev, info.st_ino}).second) {
            note(folder, "folder already walked (a symbolic link loop or a second link to it)");
            return;
        }
        std::error_code ec;
        std::vector<fs::directory_entry> entries;
        for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
        if (ec) {
            notes_.push_back({.input = folder, .status = item_status::failed,
                              .note = fmt::format("cannot read the folder: {}", ec.message())});
            return;
        }
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
        for (const auto& entry : entries) {
            const fs::path path = entry.path();
            if (!options_.hidden && path.filename().string().starts_with('.')) continue;
            const fs::path rel = relative / path.filename();
            const bool is_link = entry.is_symlink(ec);
            const fs::file_status target = fs::status(path, ec);
            if (is_link && !fs::exists(target)) {
                note(path, "broken symbolic link");
                continue;
            }
            if (fs::is_directory(target)) {
                if (!options_.recursive || matches(options_.exclude, rel)) continue;
                if (is_link && !options_.follow_symlinks) {
                    note(path, "symbolic link to a folder (use --follow-symlinks to enter it)");
                    continue;
                }
                walk(path, rel);
            } else if (fs::is_regular_file(target)) {
                consider(path, rel);
            } else {
                note(path, "not a regular file");
            }
        }
    }

    void consider(const fs::path& path, const fs::path& relative) {
        if (!options_.include.empty() && !matches(options_.include, relative)) return;
        if (matches(options_.exclude, relative)) return;
        if (!has_image_extension(path) && !looks_like_image(path, options_.loading)) {
            note(path, "not an image");
            return;
        }
        files.push_back({path, relative});
    }

    std::vector<found_file> files;

private:
    void note(const fs::path& path, std::string why) {
        notes_.push_back({.input = path, .status = item_status::skipped, .note = std::move(why)});
    }

    const batch_options& options_;
    std::vector<batch_item>& notes_;
    std::set<std::pair<dev_t, ino_t>> visited_;
};

// The canonical form of a path that may not exist yet.
fs::path resolved(const fs::path& path) {
    std::error_code ec;
    fs::path result = fs::weakly_canonical(fs::absolute(path), ec);
    return ec ? fs::absolute(path).lexically_normal() : result;
}

bool is_within(const fs::path& inner, const fs::path& outer) {
    const auto [end, unused] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return end == outer.end();
}

}  // namespace

batch_plan plan_batch(const std::vector<fs::path>& inputs, const fs::path& output_dir, const batch_options& options) {
    batch_plan plan;
    plan.output_dir = output_dir;
    plan.chain = parse_chain(options.chain);  // chain_error: a usage error of its own kind
    if (inputs.empty()) throw usage_error("no input: give at least one folder or image file");

    const std::string fixed_ext = lower(options.format) == "same" ? "" : format_extension(options.format);
    if (lower(options.format) != "same" && fixed_ext.empty()) {
        throw usage_error(fmt::format("--format '{}' is not one strata writes; accepted: jpeg, png, webp, tiff, gif, "
                                      "heif, avif, jxl, same",
                                      options.format));
    }
    if (!fixed_ext.empty()) {
        const fs::path probe = "probe." + fixed_ext;
        if (!can_write(probe)) {
            throw usage_error(fmt::format("--format '{}': this libvips cannot write .{} files", options.format, fixed_ext));
        }
        check_write_options(probe, options.writing);
    }
    const std::string name_text = !options.name_template.empty() ? options.name_template
                                  : options.recursive             ? "{dir}/{stem}.{ext}"
                                                                  : "{stem}.{ext}";
    const auto pieces = parse_template(name_text);

    // Input folders, resolved, for the checks below.
    std::vector<fs::path> input_folders;
    std::set<fs::path> input_files;
    std::vector<batch_item> notes;
    walker walk(options, notes);
    for (const auto& input : inputs) {
        std::error_code ec;
        const fs::file_status status = fs::status(input, ec);
        if (!fs::exists(status)) throw usage_error(fmt::format("{}: no such file or folder", input.string()));
        if (fs::is_directory(status)) {
            input_folders.push_back(resolved(input));
            walk.walk(input, {});
        } else {
            // A file named on the command line is converted whatever its name.
            if (!options.include.empty() || !options.exclude.empty()) {
                walk.consider(input, input.filename());
            } else {
                walk.files.push_back({input, input.filename()});
            }
        }
    }
    const fs::path output_resolved = resolved(output_dir);
    for (const auto& folder : input_folders) {
        if (is_within(output_resolved, folder)) {
            throw usage_error(fmt::format("output folder {} is inside the input folder {}: strata never writes into "
                                          "its inputs, and a later run would read its own outputs; choose a folder "
                                          "outside it",
                                          output_dir.string(), folder.string()));
        }
    }
    for (const auto& file : walk.files) {
        const fs::path input_resolved = resolved(file.input);
        input_files.insert(input_resolved);
        if (input_resolved.parent_path() == output_resolved) {
            throw usage_error(fmt::format("output folder {} is the folder of the input {}: strata never writes among "
                                          "its inputs; choose another output folder",
                                          output_dir.string(), file.input.string()));
        }
    }
    // Files the caller writes besides the images: never over an input, never
    // where a later run would read them as one.
    for (const auto& other : options.other_outputs) {
        const fs::path other_resolved = resolved(other);
        const auto inside = std::find_if(input_folders.begin(), input_folders.end(),
                                         [&](const fs::path& folder) { return is_within(other_resolved, folder); });
        if (input_files.contains(other_resolved) || inside != input_folders.end()) {
            throw usage_error(fmt::format("{} is {}: strata never writes over or among its inputs; choose a path "
                                          "outside the input folders",
                                          other.string(),
                                          input_files.contains(other_resolved)
                                              ? "one of the inputs"
                                              : fmt::format("inside the input folder {}", inside->string())));
        }
    }
    // What is already in the output folder is looked at beneath it, never
    // through a symbolic link.
    std::optional<detail::output_tree> tree;
    if (std::error_code ec; fs::is_directory(output_dir, ec)) tree.emplace(output_dir);

    std::map<fs::path, fs::path> claimed;  // output -> the input that writes it
    std::vector<fs::path> existing;
    std::set<std::string> checked_exts;
    std::size_t index = 0;
    for (const auto& file : walk.files) {
        ++index;
        batch_item item{.input = file.input};
        std::error_code ec;
        item.bytes_in = fs::file_size(file.input, ec);
        const std::string source_ext = file.input.extension().string().empty() ? "" : file.input.extension().string().substr(1);
        const std::string ext = fixed_ext.empty() ? source_ext : fixed_ext;
        std::string name;
        for (const auto& piece : pieces) {
            if (!piece.field) {
                name += piece.text;
            } else if (piece.text == "stem") {
                name += file.relative.stem().string();
            } else if (piece.text == "ext") {
                name += ext;
            } else if (piece.text == "srcext") {
                name += source_ext;
            } else if (piece.text == "name") {
                name += file.relative.filename().string();
            } else if (piece.text == "dir") {
                name += file.relative.parent_path().generic_string();
            } else {
                name += fmt::format("{:0{}}", index, piece.width);
            }
        }
        fs::path relative;
        for (const auto& part : fs::path(name)) {
            if (!part.empty() && part != "/" && part != ".") relative /= part;  // "{dir}/" at the top adds nothing
        }
        if (relative.empty() || name_text.starts_with('/') ||
            std::any_of(relative.begin(), relative.end(), [](const fs::path& p) { return p == ".."; })) {
            throw usage_error(fmt::format("--name '{}' gives '{}' for {}: an output name must stay inside the output "
                                          "folder (no leading '/', no '..')",
                                          name_text, name, file.input.string()));
        }
        if (relative.extension().empty()) {
            throw usage_error(fmt::format("--name '{}' gives '{}' for {}, a name without an extension, which says "
                                          "what format to write; add .{{ext}} (or .png, .jpg, ...)",
                                          name_text, relative.generic_string(), file.input.string()));
        }
        item.output = output_dir / relative;
        // Below the output folder nothing is followed: links there are refused.
        const fs::path output_resolved_item = (output_resolved / relative).lexically_normal();
        if (input_files.contains(output_resolved_item)) {
            throw usage_error(fmt::format("{} would be written over the input {}; strata never overwrites an input",
                                          item.output.string(), output_resolved_item.string()));
        }
        if (const auto [where, fresh] = claimed.emplace(output_resolved_item, file.input); !fresh) {
            throw usage_error(fmt::format("{} and {} would both be written to {}; add {{srcext}} or {{index}} to --name",
                                          where->second.string(), file.input.string(), item.output.string()));
        }
        bool exists = false;
        try {
            exists = tree && tree->status(relative).has_value();
        } catch (const image_error& e) {
            item.status = item_status::failed;  // a folder on the way is a link, or a file
            item.note = e.reason();
        }
        const std::string written_ext = lower(relative.extension().string().substr(1));
        if (item.status == item_status::failed) {
        } else if (ext.empty()) {
            item.status = item_status::failed;
            item.note = "no extension to keep; choose an output --format";
        } else if (!can_write(item.output)) {
            item.status = item_status::failed;
            item.note = fmt::format("strata cannot write .{} files; choose an output --format", written_ext);
        } else if (exists) {
            if (options.existing == existing_outputs::skip) {
                item.status = item_status::skipped;
                item.note = "output exists";
            } else if (options.existing == existing_outputs::fail) {
                existing.push_back(item.output);
            }
        }
        if (fixed_ext.empty() && item.status == item_status::pending && checked_exts.insert(written_ext).second) {
            check_write_options(item.output, options.writing);  // once per output format
        }
        plan.items.push_back(std::move(item));
    }
    for (const auto& other : options.other_outputs) {
        if (const auto found = claimed.find(resolved(other)); found != claimed.end()) {
            throw usage_error(fmt::format("{} is one of the outputs (the image from {}); choose another path",
                                          other.string(), found->second.string()));
        }
    }
    if (!existing.empty()) {
        throw error(fmt::format("{} output{} already exist{} (first: {}); nothing was written. Use --overwrite to "
                                "replace them, or leave out --fail-if-exists to skip them",
                                existing.size(), existing.size() == 1 ? "" : "s", existing.size() == 1 ? "s" : "",
                                existing.front().string()));
    }
    for (auto& note : notes) plan.items.push_back(std::move(note));
    return plan;
}

}  // namespace strata
