// run_batch: convert the planned files, whole files per worker while there
// are enough of them to keep every worker busy, strips of one file otherwise.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <new>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>

#include "strata/detail/output_tree.hpp"
#include "strata/batch.hpp"
#include "strata/detail/resource_hint.hpp"
#include "strata/error.hpp"
#include "strata/image_info.hpp"
#include "strata/memory.hpp"
#include "strata/pool.hpp"
#include "../io/io.hpp"
#include "../pipeline/convert.hpp"

namespace strata {

namespace fs = std::filesystem;

namespace {

// What converting one file gave.
struct converted {
    std::int32_t width = 0;
    std::int32_t height = 0;
    std::uint64_t bytes_out = 0;
    double seconds = 0;
    std::string loader;
    std::string content_note;
    int pages_in = 1;
    int pages_out = 1;
    double load_shrink = 1;
    bool streamed = false;
    auto fields() {
        return std::tie(width, height, bytes_out, seconds, loader, content_note, pages_in, pages_out, load_shrink, streamed);
    }
};

// Strips per image when one worker runs a whole file: enough that the
// working copies of a strip stay small next to the image itself.
constexpr unsigned strips_per_file = 8;

// How one worker (process or thread) runs a whole file's chain: serially, in
// place over the decoded pixels, which nothing else reads.
constexpr run_options whole_file_run{.where = backend::serial, .workers = 1, .strips = strips_per_file, .reuse_input = true};

converted convert_item(const fs::path& input, const detail::output_place& output, const filter_chain& chain,
                       const write_options& writing, const load_options& loading, const run_options& running,
                       pool* workers) {
    const conversion done = detail::convert_file_at(input, output, chain, loading, writing, running, workers);
    struct stat written {};
    const bool sized = ::fstatat(output.folder.get(), output.name.c_str(), &written, AT_SYMLINK_NOFOLLOW) == 0;
    return {done.layout.width, done.layout.height, sized ? static_cast<std::uint64_t>(written.st_size) : 0,
            done.written,      done.loader,        done.content_note,
            done.pages_in,     done.pages,         done.load_shrink,  done.streamed};
}

// A whole file in one worker process, which is one core: libvips and OpenCV
// keep to one thread there. The output folder comes open from the parent.
STRATA_TASK(strata_convert_file, [](fs::path input, detail::output_place output, std::string chain_text,
                                    write_options writing, load_options loading) {
    static const bool single = [] {
        detail::limit_codec_threads(1);
        cv::setNumThreads(1);
        // glibc gives every block over 32 MiB back to the kernel when it is
        // freed, so each file would fault in (and the kernel zero) the same
        // decode and encode buffers again: 40% of a WebP batch's page faults.
        // This process converts file after file, so it keeps what it freed.
        constexpr int keep = 1 << 30;
        mallopt(M_MMAP_THRESHOLD, keep);
        mallopt(M_TRIM_THRESHOLD, keep);
        return true;
    }();
    (void)single;
    return convert_item(input, output, parse_chain(chain_text), writing, loading, whole_file_run, nullptr);
});

// The reason of a failure, without the file name the item already carries.
std::string reason_of(const std::string& message, const batch_item& item) {
    for (const auto& path : {item.input.string(), item.output.string()}) {
        const std::string prefix = path + ": ";
        if (message.starts_with(prefix)) return message.substr(prefix.size());
    }
    return message;
}

void record(batch_item& item, const converted& done) {
    item.status = item_status::converted;
    item.width = done.width;
    item.height = done.height;
    item.bytes_out = done.bytes_out;
    item.seconds = done.seconds;
    item.loader = done.loader;
    item.pages_in = done.pages_in;
    item.pages_out = done.pages_out;
    item.load_shrink = done.load_shrink;
    item.streamed = done.streamed;
    if (!done.content_note.empty()) item.note = item.note.empty() ? done.content_note : item.note + "; " + done.content_note;
}

// Which file a name below the output folder is (device and inode), or none.
// An output is published by linking a new, complete file to its name, so a
// different identity after a try means that try's file is in place.
struct file_identity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const file_identity&) const = default;
};

// What a run shares: the output folder held open, each item's name below
// it, and what those names were before the run.
struct batch_run {
    batch_plan& plan;
    const batch_options& options;
    write_options writing;
    detail::output_tree tree;
    std::vector<fs::path> relative;
    std::vector<file_identity> before;
    const std::atomic<bool>* stop;
    /// Items whose worker died while converting them, and that worker's pid:
    /// it may have left a temporary file (a saver that writes by name).
    std::vector<std::pair<std::size_t, int>> lost_workers = {};

    file_identity identity_of(std::size_t item) {
        try {
            const auto facts = tree.status(relative[item]);
            return facts ? file_identity{facts->st_dev, facts->st_ino} : file_identity{};
        } catch (const image_error&) {
            return {};
        }
    }
    bool stopped() const { return stop != nullptr && stop->load(); }
};

// A worker can be lost (killed, or terminated by a stop) after it published
// its output and before its result arrived. Then the file on disk is the
// truth: the item is converted, as a run of the same command would find.
bool published_anyway(batch_run& run, std::size_t index) {
    const file_identity now = run.identity_of(index);
    if (now == file_identity{} || now == run.before[index]) return false;
    batch_item& item = run.plan.items[index];
    item.status = item_status::converted;
    item.note = "written as the worker converting it ended";
    std::error_code ec;
    item.bytes_out = fs::file_size(item.output, ec);
    try {
        std::tie(item.width, item.height) = detail::image_size(item.output);
    } catch (const std::exception&) {
        // The size is only for the report.
    }
    return true;
}

void note_timeout(batch_item& item, std::chrono::milliseconds limit) {
    item.status = item_status::failed;
    item.note = fmt::format("timed out after {} s; its worker was killed (--timeout)", limit.count() / 1000.0);
}

void note_appeared(batch_item& item) {
    item.status = item_status::skipped;
    item.note = "output appeared during the run (another program wrote it); not replaced";
}

// Runs `convert` on item `index`, recording success or failure. True when
// the failure was a lost worker, which is worth another try.
template <class Convert>
bool attempt(batch_run& run, std::size_t index, Convert&& convert) {
    batch_item& item = run.plan.items[index];
    bool lost = false;
    bool timed_out = false;
    try {
        record(item, convert());
    } catch (const remote_error& e) {
        if (e.type_name() == "strata::output_exists") {
            note_appeared(item);
        } else {
            item.status = item_status::failed;
            item.note = detail::with_resource_hint(reason_of(e.message(), item));
        }
    } catch (const worker_lost& e) {
        item.status = item_status::failed;
        item.note = fmt::format("the worker converting it {}", e.how());
        lost = true;
    } catch (const task_timeout& e) {
        note_timeout(item, e.limit());
        timed_out = true;
    } catch (const output_exists&) {
        note_appeared(item);
    } catch (const std::bad_alloc&) {
        item.status = item_status::failed;
        item.note = detail::with_resource_hint("out of memory");
    } catch (const std::exception& e) {
        item.status = item_status::failed;
        item.note = detail::with_resource_hint(reason_of(e.what(), item));
    }
    const bool stopping = run.stopped();
    if (item.status == item_status::failed && (lost || timed_out || stopping) && published_anyway(run, index)) {
        return false;
    }
    if (item.status == item_status::failed && stopping) {
        item.status = item_status::interrupted;
        item.note = "the run was stopped";
    }
    return lost && item.status == item_status::failed;
}

// After a try whose worker was lost: true (and the item pending again) when
// it has tries left; the note of a later success says what happened.
bool try_again(batch_item& item, unsigned& tries_left) {
    if (tries_left == 0) return false;
    --tries_left;
    item.status = item_status::pending;
    item.note = "converted again: " + item.note;
    return true;
}

// Whole files on the pool: at most two per worker in flight, so that a stop
// has little to cancel and the report follows the work closely.
void run_files_on_pool(batch_run& run, const std::vector<std::size_t>& todo, pool& workers,
                       const std::function<void(const batch_item&)>& on_done) {
    struct in_flight {
        std::size_t item;
        unsigned tries_left;
    };
    completion_queue<converted> results;  // in the order they finish
    std::vector<in_flight> running;       // by position in `results`
    running.reserve(todo.size());
    const std::size_t window = 2 * static_cast<std::size_t>(workers.size());
    std::size_t next = 0;
    const auto finish = [&](std::size_t index) {
        if (on_done) on_done(run.plan.items[index]);
    };
    // Submits item `index`; false (and the item failed) if it could not be.
    const auto submit = [&](std::size_t index, unsigned tries_left) {
        auto& item = run.plan.items[index];
        try {
            results.add(workers.submit(strata_convert_file, item.input, run.tree.place(run.relative[index]),
                                       run.plan.chain.text, run.writing, run.options.loading));
        } catch (const std::exception& e) {
            // A folder that is a link, or a pool that can start no worker.
            item.status = item_status::failed;
            item.note = detail::with_resource_hint(reason_of(e.what(), item));
            return false;
        }
        running.push_back({index, tries_left});
        return true;
    };
    while (next < todo.size() || results.pending() > 0) {
        while (next < todo.size() && results.pending() < window && !run.stopped()) {
            const std::size_t index = todo[next++];
            if (!submit(index, run.options.retries)) finish(index);
        }
        if (results.pending() == 0) break;  // stopped before submitting the rest, or nothing could be
        const std::size_t position = results.next();
        const std::size_t index = running[position].item;
        const bool lost = attempt(run, index, [&] { return results[position].get(); });
        // Killed, timed out or stopped mid-file: its worker may have left a
        // temporary file behind (removed at the end, once it is reaped).
        if (const int pid = results[position].worker_pid(); pid != 0 && !results[position].succeeded()) {
            run.lost_workers.emplace_back(index, pid);
        }
        if (lost && !run.stopped() && try_again(run.plan.items[index], running[position].tries_left)) {
            if (submit(index, running[position].tries_left)) continue;
        }
        finish(index);
    }
}

// Stops the pool's workers as soon as `stop` is set, until dismissed.
class stop_watch {
public:
    stop_watch(const std::atomic<bool>* stop, pool* workers) {
        if (stop == nullptr || workers == nullptr) return;
        thread_ = std::thread([this, stop, workers] {
            std::unique_lock lock(mutex_);
            while (!done_) {
                if (stop->load()) {
                    lock.unlock();
                    workers->terminate();
                    return;
                }
                wake_.wait_for(lock, std::chrono::milliseconds(20));
            }
        });
    }
    ~stop_watch() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    stop_watch(const stop_watch&) = delete;
    stop_watch& operator=(const stop_watch&) = delete;

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

detail::output_tree open_output_folder(const fs::path& folder) {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw image_error(folder, fmt::format("cannot create the output folder: {}", ec.message()));
    return detail::output_tree(folder);
}

}  // namespace

void run_batch(batch_plan& plan, const batch_options& options, pool* workers,
               const std::function<void(const batch_item&)>& on_done, const std::atomic<bool>* stop) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < plan.items.size(); ++i) {
        if (plan.items[i].status == item_status::pending) todo.push_back(i);
    }
    if (todo.empty()) return;
    // Largest first: a file's work grows with its size, and a large file
    // started last would keep one worker busy while the others wait.
    std::stable_sort(todo.begin(), todo.end(),
                     [&](std::size_t a, std::size_t b) { return plan.items[a].bytes_in > plan.items[b].bytes_in; });
    const unsigned count = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    const bool whole_files = options.where != backend::serial &&
                             (options.schedule == batch_schedule::files ||
                              (options.schedule == batch_schedule::automatic && todo.size() >= count));
    batch_options shared = options;
    if (shared.memory_budget != 0 && shared.loading.max_memory == 0) {
        // Each file at once holds its pixels twice: decoded, and filtered.
        const unsigned at_once = whole_files ? count : 1;
        shared.loading.max_memory = shared.memory_budget / (2 * at_once);
        shared.loading.max_memory_origin =
            fmt::format("{} of memory for {} file{} at once, each held decoded and filtered{}",
                        describe_bytes(shared.memory_budget), at_once, at_once == 1 ? "" : "s",
                        shared.loading.max_memory_origin.empty() ? "" : "; " + shared.loading.max_memory_origin);
    }
    batch_run run{plan, shared, shared.writing, open_output_folder(plan.output_dir),
                  std::vector<fs::path>(plan.items.size()), std::vector<file_identity>(plan.items.size()), stop};
    run.writing.overwrite = options.existing == existing_outputs::overwrite;
    for (const std::size_t i : todo) {
        run.relative[i] = plan.items[i].output.lexically_relative(plan.output_dir);
        run.before[i] = run.identity_of(i);
    }
    preload_libraries();  // before a pool made here, whose workers then inherit it (once per process)
    std::unique_ptr<pool> own_pool;
    if (options.where == backend::processes && workers == nullptr) {
        own_pool = std::make_unique<pool>(pool_options{.processes = count, .timeout = options.timeout});
        workers = own_pool.get();
    }
    // This process decodes and encodes only in strips mode; libvips and
    // OpenCV must not add threads of their own to the workers'.
    detail::limit_codec_threads(whole_files || options.where == backend::serial ? 1 : 0);
    cv::setNumThreads(1);

    const auto finish = [&](std::size_t i) {
        if (on_done) on_done(plan.items[i]);
    };
    const auto convert_here = [&](std::size_t i, const run_options& running, pool* strips_on) {
        return convert_item(plan.items[i].input, run.tree.place(run.relative[i]), plan.chain, run.writing,
                            run.options.loading, running, strips_on);
    };
    if (whole_files && options.where == backend::processes) {
        const stop_watch watch(stop, workers);
        run_files_on_pool(run, todo, *workers, on_done);
    } else if (whole_files) {
        // Threads: each file whole on one thread; a stop lets running files finish.
        std::mutex report;
        tbb::task_arena arena(static_cast<int>(count));
        arena.execute([&] {
            tbb::parallel_for_each(todo.begin(), todo.end(), [&](std::size_t i) {
                if (run.stopped()) return;
                attempt(run, i, [&] { return convert_here(i, whole_file_run, nullptr); });
                std::lock_guard lock(report);
                finish(i);
            });
        });
    } else {
        // One file at a time, its strips spread over the workers.
        const stop_watch watch(stop, options.where == backend::processes ? workers : nullptr);
        const run_options running{.where = options.where, .workers = count, .strips = 0, .reuse_input = true};
        for (const std::size_t i : todo) {
            if (run.stopped()) break;
            unsigned tries_left = options.retries;
            while (attempt(run, i, [&] { return convert_here(i, running, workers); }) &&
                   try_again(plan.items[i], tries_left)) {
            }
            finish(i);
        }
    }
    own_pool.reset();  // every worker gone, and reaped
    for (const std::size_t i : todo) {
        batch_item& item = plan.items[i];
        if (item.status == item_status::pending) {
            item.status = item_status::interrupted;
            item.note = "the run was stopped before it started";
        }
    }
    // A worker killed while it wrote by name (--timeout, a stop, the OOM
    // killer) could not remove its temporary file.
    for (const auto& [i, pid] : run.lost_workers) {
        try {
            detail::remove_orphaned_temporaries(run.tree.place(run.relative[i]), pid);
        } catch (const std::exception&) {
            // The folder is gone or cannot be opened: nothing to tidy there.
        }
    }
    run.tree.remove_empty_made_folders();
}

}  // namespace strata
