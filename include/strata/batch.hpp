// Batch conversion: a folder tree (or a list of files) through a filter
// chain into an output folder, planned first, then run on the pool with
// whole files or strips per task, every output written atomically.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "strata/export.hpp"
#include "strata/image.hpp"
#include "strata/image_info.hpp"
#include "strata/pipeline.hpp"

namespace strata {

class pool;

/// What to do when an output file already exists.
enum class existing_outputs {
    skip,       ///< leave it, report the input as skipped (re-running resumes)
    overwrite,  ///< replace it (atomically)
    fail,       ///< refuse the whole run before writing anything
};

/// How work reaches the workers.
enum class batch_schedule {
    automatic,  ///< whole files while there are at least as many files as workers, strips otherwise
    files,      ///< one task per file: decode, chain and encode in the worker
    strips,     ///< one file at a time, decoded here, its strips spread over the workers
};

struct batch_options {
    /// The filter chain, as `strata apply -f` takes it.
    std::string chain;
    /// Descend into sub-folders, mirroring them under the output folder.
    bool recursive = false;
    /// Follow symbolic links to folders (files behind symbolic links are always
    /// read). A folder already being walked is never entered again.
    bool follow_symlinks = false;
    /// Also walk into hidden files and folders (names starting with '.',
    /// macOS "._" resource forks among them), which are left out by default
    /// as rsync, fd and ripgrep do. Files named on their own are always read.
    bool hidden = false;
    /// Globs (fnmatch, case-insensitive). A pattern without '/' matches file
    /// names, one with '/' matches paths relative to the input folder.
    /// Empty include: every file. Exclude also prunes folders.
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    /// Output format: jpeg, png, webp, tiff, gif, heif, avif, jxl, or "same"
    /// (the input's extension).
    std::string format = "same";
    /// Output name, relative to the output folder. Fields: {stem} {ext}
    /// (output extension) {srcext} (input extension) {name} (input file name)
    /// {dir} (input's folder relative to its input folder) {index} (1-based,
    /// {index:4} pads to 4 digits). Empty: "{stem}.{ext}", and
    /// "{dir}/{stem}.{ext}" when recursive.
    std::string name_template;
    existing_outputs existing = existing_outputs::skip;
    write_options writing;
    load_options loading;
    backend where = backend::processes;
    /// Workers (processes or threads); 0: one per hardware thread.
    unsigned workers = 0;
    batch_schedule schedule = batch_schedule::automatic;
    /// A file whose worker process was lost (killed, crashed, out of memory)
    /// is converted again, up to this many more times. 0: never.
    unsigned retries = 1;
    /// A file whose conversion runs longer than this fails alone, its worker
    /// killed and replaced (in strips mode the limit applies to each strip).
    /// Applies to the pool run_batch makes; a pool given to it keeps its own
    /// pool_options::timeout. Zero: no limit.
    std::chrono::milliseconds timeout{600'000};
    /// Memory (bytes) the run's images may take together, when
    /// loading.max_memory is 0: each file is then refused (before decoding)
    /// if its decoded pixels, held twice (decoded and filtered), would take
    /// more than its share, the budget over the files converted at once
    /// (the workers, in files mode; one in strips mode). 0: no budget.
    std::uint64_t memory_budget = 0;
    /// Files the caller writes besides the images (a report, say): the run
    /// is refused if one of them is an input, lies inside an input folder,
    /// or is one of the outputs.
    std::vector<std::filesystem::path> other_outputs;
};

enum class item_status {
    pending,      ///< planned, not run (yet)
    converted,
    skipped,      ///< not an image, or its output exists
    failed,
    interrupted,  ///< the run stopped before this file was done
};

STRATA_API const char* to_string(item_status status) noexcept;

/// One input file and what became of it.
struct batch_item {
    std::filesystem::path input;
    std::filesystem::path output;  ///< empty when there is nothing to write (not an image)
    item_status status = item_status::pending;
    std::string note;  ///< why it was skipped or failed, or what is worth knowing (content not what the name says)
    std::string loader;  ///< the libvips loader that read it, once converted
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    int width = 0;  ///< of the output (of one page)
    int height = 0;
    int pages_in = 1;   ///< pages (frames) the input holds
    int pages_out = 1;  ///< pages written
    double load_shrink = 1;  ///< how many times smaller than stored the input was decoded
    bool streamed = false;   ///< decoded, filtered and encoded top to bottom (conversion::streamed)
    double seconds = 0;  ///< decode + filter + encode
};

/// The files of a run and where each one goes; made by plan_batch.
struct batch_plan {
    std::filesystem::path output_dir;
    filter_chain chain;
    std::vector<batch_item> items;
};

/// Walks `inputs` (folders and files), decides every output name and checks
/// the whole run before anything is written. Throws usage_error for a run
/// that must not start: a bad chain, template or format, an output folder
/// inside an input folder (the run would read its own outputs) or equal to
/// the folder of an input file, two inputs with the same output, an output
/// name without an extension, an input that does not exist, one of
/// options.other_outputs where an input is, or (with existing_outputs::fail)
/// outputs that already exist. An output whose folder below `output_dir` is
/// a symbolic link fails alone.
STRATA_API batch_plan plan_batch(const std::vector<std::filesystem::path>& inputs,
                                 const std::filesystem::path& output_dir, const batch_options& options);

/// Runs the pending items of `plan`, updating each one, and calling
/// `on_done` (if set) from this thread as each item finishes. Stops early,
/// marking unfinished items interrupted, once `stop` (if set) becomes true:
/// running workers are killed and nothing partial is left, because every
/// output is written to an unnamed or hidden file and named when complete.
/// The output folder is opened once (made if missing) and every output is
/// created beneath it without following a symbolic link. Without
/// existing_outputs::overwrite no file is ever replaced: one that appears
/// during the run is left as it is and the item is skipped. `workers` is
/// used for backend::processes; a pool is made if it is null.
STRATA_API void run_batch(batch_plan& plan, const batch_options& options, pool* workers = nullptr,
                          const std::function<void(const batch_item&)>& on_done = {},
                          const std::atomic<bool>* stop = nullptr);

}  // namespace strata
