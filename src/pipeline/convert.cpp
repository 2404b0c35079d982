// convert_file: one image file decoded, filtered and encoded with the three
// overlapped. The decoder hands each strip to the workers as soon as the
// rows it reads are in; the encoder takes rows as soon as their strip is done.
#include <cctype>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../filtering/chain.hpp"
#include "../io/image_read.hpp"
#include "../io/image_write.hpp"
#include "../io/loaders.hpp"
#include "../io/metadata.hpp"
#include "../io/ring.hpp"
#include "../io/vips_io.hpp"
#include "convert.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"
#include "strata/task.hpp"
#include "pipeline.hpp"

namespace strata {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// True if files named like `name` hold several pages: GIF, WebP, TIFF.
bool holds_pages(const std::string& name) {
    std::string extension = std::filesystem::path(name).extension().string();
    for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return extension == ".gif" || extension == ".webp" || extension == ".tif" || extension == ".tiff";
}

// What read the input, from the metadata the image carries; pages left out.
void note_source(conversion& done, const std::shared_ptr<const detail::image_metadata>& metadata,
                 const std::filesystem::path& input, const std::string& output) {
    if (!metadata) return;
    done.loader = metadata->loader;
    done.pages_in = metadata->pages_in_file;
    std::vector<std::string> notes;
    if (!metadata->name_matches) {
        notes.push_back(fmt::format("content is {} ({}); the name says {}", metadata->format, metadata->loader,
                                    input.extension().empty() ? "nothing" : input.extension().string()));
    }
    if (!metadata->colour_note.empty()) notes.push_back(metadata->colour_note);
    if (done.pages < done.pages_in) {
        const std::string extension = std::filesystem::path(output).extension().string();
        notes.push_back(metadata->pages_differ
                            ? fmt::format("1 of {} pages kept (its pages differ in size or bands, and strata writes "
                                          "pages of one kind; --page N picks another)",
                                          done.pages_in)
                        : holds_pages(output)
                            ? fmt::format("{} of {} pages kept (from the page --page names on)", done.pages, done.pages_in)
                            : fmt::format("1 of {} pages kept ({} holds one page; --page N picks another)",
                                          done.pages_in, extension));
    }
    done.content_note = fmt::format("{}", fmt::join(notes, "; "));
}

// True if `chain` is crops and flops (none or more), perhaps an area shrink,
// steps that are not geometry (none or more: one stage of strips), and
// crops and flops again: the geometry at the edges is the decoder's or the
// encoder's, row by row. (Whether the shrink is one for a given file, the
// reader tells from its header.)
bool streamable(const filter_chain& chain) {
    std::size_t first = detail::leading_edge_steps(chain);
    if (first < chain.steps.size() && chain.steps[first].filter->shrinks_by_area) ++first;
    const std::size_t last = detail::trailing_edge_steps_from(chain, first);
    for (std::size_t i = first; i < last; ++i) {
        if (detail::is_geometry(chain.steps[i])) return false;
    }
    return true;
}

// Tells `progress` (if any) the rows `reader` decodes and, once known, the
// rows written (0: not known yet), and has the reader count its rows there.
void start_progress(conversion_progress* progress, detail::image_reader& reader, int rows_out) {
    if (progress == nullptr) return;
    progress->rows_in.store(reader.layout().height, std::memory_order_relaxed);
    progress->row_bytes_in.store(reader.layout().row_bytes(), std::memory_order_relaxed);
    progress->rows_out.store(rows_out, std::memory_order_relaxed);
    reader.count_rows_in(&progress->rows_decoded);
}

// Rows [0, bottom) have gone to the encoder.
void note_written(conversion_progress* progress, int bottom) {
    if (progress == nullptr) return;
    int seen = progress->rows_written.load(std::memory_order_relaxed);
    while (seen < bottom && !progress->rows_written.compare_exchange_weak(seen, bottom, std::memory_order_relaxed)) {
    }
}

// `ready` (null: every row is ready) that also counts the rows the encoder
// takes in `progress`; null as it was when there is nothing to count.
detail::rows_ready counting_rows(conversion_progress* progress, detail::rows_ready ready) {
    if (progress == nullptr) return ready;
    return [progress, ready = std::move(ready)](int top, int bottom) {
        if (ready && !ready(top, bottom)) return false;
        note_written(progress, bottom);
        return true;
    };
}

// Which strips of a stage are done, for an encoder waiting on their rows.
// Thread-safe.
class strip_gate {
public:
    explicit strip_gate(const detail::strip_plan& plan) : plan_(plan), done_(static_cast<std::size_t>(plan.count)) {}

    void finish(int strip) {
        {
            std::lock_guard lock(mutex_);
            done_[static_cast<std::size_t>(strip)] = true;
        }
        changed_.notify_all();
        // Rows nobody encodes are taken once their strip has written them.
        if (plan_.top(strip) < unwanted_) take(plan_.top(strip), std::min(plan_.bottom(strip), unwanted_));
    }

    /// Rows [0, rows) are never encoded (a crop drops them): each strip's
    /// share of them is taken as it finishes. Before any strip starts.
    void never_encoded_above(int rows) { unwanted_ = rows; }

    /// No more strips will finish: every waiter gives up.
    void abandon() noexcept {
        {
            std::lock_guard lock(mutex_);
            abandoned_ = true;
        }
        changed_.notify_all();
    }

    /// How many strips from the first on are done.
    int done_from_start() {
        std::lock_guard lock(mutex_);
        while (done_from_start_ < plan_.count && done_[static_cast<std::size_t>(done_from_start_)]) ++done_from_start_;
        return done_from_start_;
    }

    bool abandoned() {
        std::lock_guard lock(mutex_);
        return abandoned_;
    }

    /// Blocks until every strip over rows [top, bottom) is done; false if the
    /// gate was abandoned first.
    bool wait_rows(int top, int bottom) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return abandoned_ || rows_done(top, bottom); });
        return !abandoned_;
    }

    /// The encoder has taken rows [top, bottom), in any order.
    void take(int top, int bottom) {
        {
            std::lock_guard lock(mutex_);
            if (top <= taken_from_top_) {
                taken_from_top_ = std::max(taken_from_top_, bottom);
            } else {
                taken_apart_[top] = std::max(taken_apart_[top], bottom);
            }
            // Pieces taken earlier that now join the top.
            for (auto piece = taken_apart_.begin(); piece != taken_apart_.end() && piece->first <= taken_from_top_;
                 piece = taken_apart_.erase(piece)) {
                taken_from_top_ = std::max(taken_from_top_, piece->second);
            }
        }
        changed_.notify_all();
    }

    /// Blocks until the encoder has taken every row above `rows`; false if
    /// the gate was abandoned first.
    bool wait_taken(int rows) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return abandoned_ || taken_from_top_ >= rows; });
        return !abandoned_;
    }

    /// Blocks until none of the strips before `started` that is unfinished
    /// reads rows above `row`, each strip reading `halo` rows above its own;
    /// false if the gate was abandoned first.
    bool wait_unread(int row, int halo, int started) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return abandoned_ || unread(row, halo, started); });
        return !abandoned_;
    }

    /// wait_unread and wait_taken would not block.
    bool room(int row, int halo, int started, int taken) {
        std::lock_guard lock(mutex_);
        return abandoned_ || (unread(row, halo, started) && taken_from_top_ >= taken);
    }

    /// Rows from the top the encoder has taken.
    int taken_from_top() {
        std::lock_guard lock(mutex_);
        return taken_from_top_;
    }

private:
    bool unread(int row, int halo, int started) {
        if (row <= 0) return true;
        while (done_from_start_ < plan_.count && done_[static_cast<std::size_t>(done_from_start_)]) ++done_from_start_;
        return done_from_start_ >= started || plan_.top(done_from_start_) - halo >= row;
    }

    bool rows_done(int top, int bottom) const {
        // The strip that holds row `top`: the last one starting at or before it.
        int strip = static_cast<int>(static_cast<std::int64_t>(top) * plan_.count / plan_.height);
        while (strip + 1 < plan_.count && plan_.top(strip + 1) <= top) ++strip;
        while (strip > 0 && plan_.top(strip) > top) --strip;
        for (; strip < plan_.count && plan_.top(strip) < bottom; ++strip) {
            if (!done_[static_cast<std::size_t>(strip)]) return false;
        }
        return true;
    }

    detail::strip_plan plan_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<bool> done_;
    int done_from_start_ = 0;
    bool abandoned_ = false;
    int taken_from_top_ = 0;
    std::map<int, int> taken_apart_;  // top -> bottom of rows taken below taken_from_top_
    int unwanted_ = 0;                // never_encoded_above
};

// How a strip over rows [top, bottom) is run: on a worker of `workers`, or
// on this process's thread with its scratch memory.
struct strip_work {
    std::function<future<void>(pool& workers, int top, int bottom)> submit;
    std::function<void(int top, int bottom, detail::strip_scratch& scratch)> run;
};

// The first stage's strips from the whole `input` into the whole `output`.
strip_work whole_image_strips(const filter_chain& chain, std::size_t stage_end, const image& input, const image& output) {
    return {[&chain, stage_end, &input, &output](pool& workers, int top, int bottom) {
                return detail::submit_strip(workers, chain, 0, stage_end, input, output, top, bottom);
            },
            [&chain, stage_end, &input, &output](int top, int bottom, detail::strip_scratch& scratch) {
                detail::run_strip(chain, 0, stage_end, input, output, top, bottom, scratch);
            }};
}

// Runs the strips of the first stage as they are handed over, on worker
// processes or TBB threads, and tells the gate as each one ends. Rows of
// `release` (the input, held whole) that no unfinished strip reads any more
// are given back to the system.
class strip_runner {
public:
    /// Strips run on `workers` if given, else on `threads` TBB threads.
    strip_runner(strip_work work, const image* release, int halo, const detail::strip_plan& plan, strip_gate& gate,
                 pool* workers, unsigned threads)
        : work_(std::move(work)), release_(release), plan_(plan), gate_(gate), workers_(workers),
          arena_(static_cast<int>(threads)), halo_(halo) {
        // No push_back below may throw between a submission and its hook.
        running_.reserve(static_cast<std::size_t>(plan.count));
        hooks_.reserve(static_cast<std::size_t>(plan.count));
    }

    strip_runner(const strip_runner&) = delete;
    strip_runner& operator=(const strip_runner&) = delete;
    /// finish() is the way out; this is the safety net when something threw
    /// past it: no task or callback may outlive the runner.
    ~strip_runner() {
        try {
            arena_.execute([&] { threads_.wait(); });
        } catch (...) {
        }
        for (auto& done : running_) done.wait();  // no worker writes into the rings after this
    }

    void start(int strip) {
        const int top = plan_.top(strip);
        const int bottom = plan_.bottom(strip);
        if (workers_ != nullptr) {
            future<void> done = work_.submit(*workers_, top, bottom);
            // Runs on the pool's thread, after waiters on the future have
            // been woken: finish() waits for it separately.
            hooks_.push_back(done.on_done([this, strip](const future<void>& strip_done) {
                try {
                    strip_done.succeeded() ? finished(strip) : gate_.abandon();
                } catch (...) {
                    gate_.abandon();  // nothing may escape into the pool
                }
                {
                    std::lock_guard lock(mutex_);
                    ++callbacks_run_;
                }
                callbacks_ran_.notify_all();
            }));
            running_.push_back(std::move(done));
            return;
        }
        const auto run = [this, strip, top, bottom] {
            try {
                work_.run(top, bottom, scratch_.local());
                finished(strip);
            } catch (...) {
                {
                    std::lock_guard lock(mutex_);
                    if (!thread_failure_) thread_failure_ = std::current_exception();
                }
                gate_.abandon();
            }
        };
        // One thread: the strip runs here and now, between the decoder's reads.
        arena_.max_concurrency() == 1 ? run() : arena_.execute([&] { threads_.run(run); });
    }

    /// On threads: runs or waits for every strip started so far.
    void help() {
        if (workers_ == nullptr) arena_.execute([&] { threads_.wait(); });
    }

    /// Waits for every strip started, and for every callback about one; the
    /// first failure (in strip order for processes), or null.
    std::exception_ptr finish() {
        arena_.execute([&] { threads_.wait(); });
        for (auto& done : running_) done.wait();
        {
            std::unique_lock lock(mutex_);
            callbacks_ran_.wait(lock, [&] { return callbacks_run_ == running_.size(); });
        }
        for (auto& done : running_) {
            try {
                done.get();
            } catch (...) {
                return std::current_exception();
            }
        }
        std::lock_guard lock(mutex_);
        return thread_failure_;
    }

private:
    void finished(int strip) {
        gate_.finish(strip);
        if (release_ == nullptr) return;
        const int unfinished = gate_.done_from_start();
        const int unread = unfinished < plan_.count ? plan_.top(unfinished) - halo_ : plan_.height;
        std::lock_guard lock(mutex_);
        if (unread <= released_rows_) return;
        const std::size_t row_bytes = release_->layout().row_bytes();
        try {
            release_->pixels().discard(static_cast<std::size_t>(released_rows_) * row_bytes,
                                    static_cast<std::size_t>(unread - released_rows_) * row_bytes);
            released_rows_ = unread;
        } catch (const std::system_error&) {
            // Only memory is lost: the rows stay until the image goes.
        }
    }

    strip_work work_;
    const image* release_;
    detail::strip_plan plan_;
    strip_gate& gate_;
    pool* workers_;
    tbb::task_arena arena_;  // `threads` threads, this one (the decoder) counted among them
    std::vector<future<void>> running_;
    tbb::task_group threads_;
    tbb::enumerable_thread_specific<detail::strip_scratch> scratch_;
    int halo_;
    std::mutex mutex_;
    std::condition_variable callbacks_ran_;
    std::size_t callbacks_run_ = 0;  // of the strips in running_, to their end
    std::exception_ptr thread_failure_;
    int released_rows_ = 0;  // input rows [0, released_rows_) are gone
    std::vector<completion_hook> hooks_;  // last: gone before anything their callbacks use
};

// Decodes strip after strip, `decode(strip)` reading the rows it needs
// (false: stop), and starts each on `runner`, while `encode`, if given, runs
// on a thread of its own; notes in `done` when the last row was decoded and
// the last strip filtered. Throws the first failure: the decoder's or a
// strip's, else the encoder's.
void decode_filter_encode(strip_gate& gate, strip_runner& runner, int strips, const std::function<bool(int)>& decode,
                          const std::function<void()>& encode, conversion& done, clock_type::time_point start) {
    std::exception_ptr encode_failure;
    std::thread encoder;
    if (encode) {
        encoder = std::thread([&] {
            try {
                encode();
            } catch (...) {
                encode_failure = std::current_exception();
                gate.abandon();  // nothing more to decode for
            }
        });
    }
    std::exception_ptr failure;
    try {
        for (int strip = 0; strip < strips && !gate.abandoned(); ++strip) {
            if (!decode(strip)) break;
            runner.start(strip);
        }
    } catch (...) {
        failure = std::current_exception();
        gate.abandon();
    }
    done.decoded = seconds_since(start);
    if (auto strip_failure = runner.finish(); !failure) failure = strip_failure;
    done.filtered = seconds_since(start);
    if (failure) gate.abandon();
    if (encoder.joinable()) encoder.join();
    if (failure) std::rethrow_exception(failure);
    if (encode_failure) std::rethrow_exception(encode_failure);
}

// The chain on each of `pages` pages held one above another in `roll`, each
// page alone (no filter reads across a page's edge); the results one above
// another in the same order.
image run_pages(const filter_chain& chain, const image& roll, int pages, const run_options& options, pool* workers) {
    image_layout page_layout = roll.layout();
    page_layout.height /= pages;
    const std::size_t page_bytes = page_layout.bytes();
    image result;
    std::size_t result_bytes = 0;
    for (int p = 0; p < pages; ++p) {
        image page(page_layout);
        std::memcpy(page.pixels().data(), roll.pixels().data() + p * page_bytes, page_bytes);
        page.set_metadata(roll.metadata());
        const image done = run_chain(chain, page, options, workers);
        if (p == 0) {
            result_bytes = done.layout().bytes();
            image_layout roll_layout = done.layout();
            roll_layout.height *= pages;
            result = image(roll_layout);
            auto metadata = std::make_shared<detail::image_metadata>(*roll.metadata());
            metadata->page_height = done.height();
            result.set_metadata(std::move(metadata));
        }
        std::memcpy(result.pixels().data() + p * result_bytes, done.pixels().data(), result_bytes);
    }
    return result;
}

// The three steps one after another, from an opened file.
conversion convert_in_turn(detail::image_reader& reader, const std::filesystem::path& input,
                           const detail::output_place& output, const write_options& writing, run_options options,
                           pool* workers) {
    const auto start = clock_type::now();
    conversion done;
    start_progress(options.progress, reader, 0);
    reader.read_until(reader.layout().height);
    image decoded = reader.target();
    done.load_shrink = reader.shrink();
    done.decoded = seconds_since(start);
    options.reuse_input = true;  // the decoded pixels are this function's own
    const int pages = reader.pages();
    const image result = pages > 1 ? run_pages(reader.chain(), decoded, pages, options, workers)
                                   : run_chain(reader.chain(), decoded, options, workers);
    decoded = image();  // its pages go back before encoding (unless the result reuses them)
    done.filtered = seconds_since(start);
    if (options.progress != nullptr) options.progress->rows_out.store(result.height(), std::memory_order_relaxed);
    detail::write_image_when_ready(result, output, writing, counting_rows(options.progress, nullptr));
    done.layout = result.layout();
    done.pages = pages;
    if (pages > 1) done.layout.height /= pages;
    note_source(done, result.metadata(), input, output.name);
    done.written = seconds_since(start);
    return done;
}

// A file only an untrusted loader reads, converted whole in a worker.
STRATA_TASK(strata_convert_isolated, [](std::filesystem::path input, detail::output_place output, std::string chain_text,
                                        load_options loading, write_options writing) {
    detail::image_reader reader(input, loading, parse_chain(chain_text));
    return convert_in_turn(reader, input, output, writing, {.where = backend::serial, .workers = 1, .strips = 8}, nullptr);
});

// A file that streams: decoded into a ring of rows, its strips filtered from
// that ring into another (on `workers`, or on threads without), and encoded
// from there as they are done. The decoder stays a few strips ahead of the
// encoder, and each ring holds only those strips' rows, so memory does not
// depend on the image's height.
conversion convert_streamed(detail::image_reader& reader, const std::filesystem::path& input,
                            const detail::output_place& output, const write_options& writing,
                            const run_options& options, pool* workers, clock_type::time_point start) {
    // The crops and flops that end the chain are the encoder's (those that
    // start it were the decoder's); the strips run the steps between.
    const filter_chain& all = reader.chain();
    const std::size_t middle_end = detail::trailing_edge_steps_from(all, 0);
    const filter_chain chain = detail::sub_chain(all, 0, middle_end);
    const filter_chain then = detail::sub_chain(all, middle_end, all.steps.size());
    const image_layout& layout = reader.layout();
    const image_layout out_layout = detail::layout_after(chain, 0, chain.steps.size(), layout);
    const image_layout written_layout = detail::layout_after(all, 0, all.steps.size(), layout);
    const int halo = detail::stage_halo(chain, 0, chain.steps.size());
    // The rows of the strips' output the encoder's crops keep: strips go no
    // further down, and the rows above are taken as soon as they are done.
    const auto [keep_top, keep_bottom] = detail::rows_kept(then, out_layout);
    const int rows_decoded = std::min(layout.height, keep_bottom + halo);
    start_progress(options.progress, reader, written_layout.height);
    if (options.progress != nullptr) options.progress->rows_in.store(rows_decoded, std::memory_order_relaxed);
    reader.read_no_further_than(rows_decoded);
    image_layout planned = layout;
    planned.height = keep_bottom;
    // On one thread, strips are only a matter of memory: chosen here.
    run_options planning = options;
    if (options.where == backend::serial) planning = {.where = backend::serial, .workers = 1};
    const detail::strip_plan plan = detail::plan_stream_strips(planned, halo, planning);
    const int strip_rows = (plan.height + plan.count - 1) / plan.count;  // the tallest strip
    // Strips started and not yet encoded: enough for every worker to have a
    // strip running and one waiting, and more rows than the encoder asks for
    // at once (16 at a time in libvips' savers), so that the rows it waits
    // for are always in strips already started.
    const int ahead = static_cast<int>(
        std::max(std::min(detail::worker_count(planning), 1u << 20) + 2, 64u / static_cast<unsigned>(strip_rows) + 2));
    const detail::row_ring in_ring = detail::reuse_ring(layout, std::min(layout.height, (ahead + 1) * strip_rows + 2 * halo));
    const detail::row_ring out_ring = detail::reuse_ring(out_layout, std::min(layout.height, (ahead + 1) * strip_rows));
    reader.read_into(in_ring);
    // The rings go back for the next image of this size (their pages stay
    // faulted in), whether this one succeeded or not, once no strip uses them.
    struct rings_back {
        const detail::row_ring& input;
        const detail::row_ring& output;
        ~rings_back() {
            try {
                detail::give_back(input);
                detail::give_back(output);
            } catch (...) {
            }
        }
    } at_end{in_ring, out_ring};

    strip_gate gate(plan);
    gate.never_encoded_above(keep_top);
    // No filter between the edges: a strip is a copy, done here between reads.
    const bool copy = chain.steps.empty();
    strip_runner runner(
        {[&](pool& on, int top, int bottom) { return detail::submit_ring_strip(on, chain, in_ring, out_ring, top, bottom); },
         [&](int top, int bottom, detail::strip_scratch& scratch) {
             if (copy) {
                 std::memcpy(out_ring.row(top), in_ring.row(top), static_cast<std::size_t>(bottom - top) * layout.row_bytes());
             } else {
                 detail::run_ring_strip(chain, in_ring, out_ring, top, bottom, scratch);
             }
         }},
        nullptr, halo, plan, gate, copy ? nullptr : workers, copy ? 1 : detail::worker_count(planning));
    conversion done;
    decode_filter_encode(
        gate, runner, plan.count,
        [&](int strip) {
            // The rows decoded next go over rows of the input ring that no
            // running strip may still read; the strip's output goes over
            // rows of the output ring the encoder must have taken.
            const int needed = std::min(layout.height, plan.bottom(strip) + halo);
            // Strips on TBB threads may have no thread but this one to run
            // them (a one-core machine): run what was started before waiting.
            if (!gate.room(needed - in_ring.rows(), halo, strip, plan.bottom(strip) - out_ring.rows())) runner.help();
            if (!gate.wait_unread(needed - in_ring.rows(), halo, strip) ||
                !gate.wait_taken(plan.bottom(strip) - out_ring.rows())) {
                return false;
            }
            reader.read_until(needed);
            return true;
        },
        [&] {
            // Rows asked for again once taken may have been written over:
            // refused (no saver that streams asks twice).
            detail::write_rows_when_ready(
                out_layout, reader.metadata(),
                {[&](int top, int bottom) { return top >= gate.taken_from_top() && gate.wait_rows(top, bottom); },
                 [&](int y) -> const std::byte* { return out_ring.row(y); },
                 [&](int top, int bottom) {
                     gate.take(top, bottom);
                     note_written(options.progress, gate.taken_from_top() - keep_top);
                 }},
                output, writing, then);
        },
        done, start);
    done.streamed = true;
    done.load_shrink = reader.shrink();
    done.layout = written_layout;
    note_source(done, reader.metadata(), input, output.name);
    done.written = seconds_since(start);
    return done;
}

}  // namespace

conversion convert_file(const std::filesystem::path& input, const std::filesystem::path& output,
                        const filter_chain& chain, const load_options& loading, const write_options& writing,
                        const run_options& options, pool* workers) {
    return detail::convert_file_at(input, detail::place_of(output), chain, loading, writing, options, workers);
}

conversion detail::convert_file_at(const std::filesystem::path& input, const output_place& output,
                                   const filter_chain& chain, const load_options& requested,
                                   const write_options& writing, const run_options& options, pool* workers) {
    // Without its profile, an image is only seen right in sRGB.
    load_options loading = requested;
    if (writing.strip_metadata && loading.colour_profile.empty()) loading.colour_profile = "srgb";
    // Every page where the output holds them.
    if (holds_pages(output.name)) loading.all_pages = true;
    if (options.where == backend::processes && workers != nullptr) {
        if (const auto loader = find_loader(input, loading); loader && loader->untrusted) {
            return workers->submit(strata_convert_isolated, input, output, chain.text, loading, writing).get();
        }
    }
    const auto start = clock_type::now();
    // One stage of strips between a decoder and an encoder that both go top
    // to bottom: the image can stream if its format is read that way too.
    const bool may_stream = streamable(chain) && detail::saver_writes_in_order(output.name);
    detail::image_reader reader(input, loading, chain, may_stream);
    const bool serial = options.where == backend::serial;
    if (!reader.streams() && (serial || chain.steps.empty() || detail::is_geometry(chain.steps.front()) ||
                              reader.pages() > 1)) {
        return convert_in_turn(reader, input, output, writing, options, workers);
    }
    std::unique_ptr<pool> own_pool;
    if (options.where == backend::processes && workers == nullptr) {
        own_pool = std::make_unique<pool>(pool_options{.processes = detail::worker_count(options)});
        workers = own_pool.get();
    }
    if (reader.streams()) {
        return convert_streamed(reader, input, output, writing, options,
                                options.where == backend::processes ? workers : nullptr, start);
    }
    const image& source = reader.target();
    const std::size_t end = detail::stage_end(chain, 0);
    const bool one_stage = end == chain.steps.size();
    image stage_output(detail::layout_after(chain, 0, end, source.layout()));
    stage_output.set_metadata(source.metadata());
    const int halo = detail::stage_halo(chain, 0, end);
    start_progress(options.progress, reader, one_stage ? stage_output.height() : 0);
    const detail::strip_plan plan = detail::plan_strips(source.height(), halo, options);
    strip_gate gate(plan);
    strip_runner runner(whole_image_strips(chain, end, source, stage_output), &source, halo, plan, gate,
                        options.where == backend::processes ? workers : nullptr, detail::worker_count(options));

    // With a single stage, the encoder runs beside the decoder and the strips.
    conversion done;
    decode_filter_encode(
        gate, runner, plan.count,
        [&](int strip) {
            reader.read_until(plan.bottom(strip) + halo);
            return true;
        },
        one_stage ? std::function<void()>([&] {
            detail::write_image_when_ready(
                stage_output, output, writing,
                counting_rows(options.progress, [&](int top, int bottom) { return gate.wait_rows(top, bottom); }));
        })
                  : std::function<void()>(),
        done, start);
    if (one_stage) {
        done.layout = stage_output.layout();
        note_source(done, stage_output.metadata(), input, output.name);
    } else {
        run_options later = options;
        later.reuse_input = true;  // stage_output is this function's own
        const image result = detail::run_steps(chain, end, stage_output, later, workers);
        done.filtered = seconds_since(start);
        if (options.progress != nullptr) options.progress->rows_out.store(result.height(), std::memory_order_relaxed);
        detail::write_image_when_ready(result, output, writing, counting_rows(options.progress, nullptr));
        done.layout = result.layout();
        note_source(done, result.metadata(), input, output.name);
    }
    done.written = seconds_since(start);
    return done;
}

}  // namespace strata
