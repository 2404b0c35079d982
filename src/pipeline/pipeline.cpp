// Running a filter chain strip by strip: each strip reads the rows it needs
// around it (the chain's halo) and writes only its own rows, so the result is
// the whole-image result, bit for bit, on every backend.
#include <algorithm>
#include <deque>
#include <memory>
#include <numeric>
#include <utility>
#include <thread>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "strata/filter.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"
#include "../io/ring.hpp"
#include "pipeline.hpp"

namespace strata {

namespace {

// The chain a worker was sent, parsed once for all the strips of an image
// (and of the next images with the same chain), not once per strip.
const filter_chain& parsed_in_worker(const std::string& text) {
    static std::string last_text;
    static filter_chain last = parse_chain("");
    if (text != last_text) {
        last = parse_chain(text);
        last_text = text;
    }
    return last;
}

// A worker process keeps its strip memory for its next strip.
detail::strip_scratch& worker_scratch() {
    cv::setNumThreads(1);  // the pool already keeps every core busy
    static detail::strip_scratch scratch;
    return scratch;
}

// What a worker process runs for one strip.
STRATA_TASK(strata_run_strip, [](shared_buffer input_pixels, image_layout input_layout, shared_buffer output_pixels,
                                 image_layout output_layout, std::string chain_text, std::uint64_t first,
                                 std::uint64_t last, std::int32_t y0, std::int32_t y1) {
    const filter_chain& chain = parsed_in_worker(chain_text);
    detail::run_strip(chain, first, last, image(input_layout, std::move(input_pixels)),
                      image(output_layout, std::move(output_pixels)), y0, y1, worker_scratch());
});

// ... and for one strip of a streamed image, from ring to ring.
STRATA_TASK(strata_run_ring_strip, [](shared_buffer input_rows, image_layout input_layout, shared_buffer output_rows,
                                      image_layout output_layout, std::string chain_text, std::int32_t y0,
                                      std::int32_t y1) {
    const filter_chain& chain = parsed_in_worker(chain_text);
    detail::run_ring_strip(chain, detail::received_ring(std::move(input_rows), input_layout),
                           detail::received_ring(std::move(output_rows), output_layout), y0, y1, worker_scratch());
});

}  // namespace

cv::Mat as_mat(const image& picture) {
    return cv::Mat(picture.height(), picture.width(), cv_type(picture.layout()), picture.pixels().data());
}

namespace {

// A matrix over `rows` rows of `source` from `top` on, standalone: OpenCV
// picks its code path (and so its rounding) differently for a view into a
// larger matrix (rowRange), and the whole-image run hands it a standalone
// one. Outside the image's own edges, a band's border rows are context only
// and are cropped away afterwards.
cv::Mat standalone_rows(const cv::Mat& source, int top, int rows) {
    return cv::Mat(rows, source.cols, source.type(), const_cast<uchar*>(source.ptr(top)), source.step);
}

// Rows [y0, y1) of the result of steps [first, last) on an image of
// `whole`, of which `input` holds rows [input_top, input_top + input.rows),
// at least those the steps read; as a view into `scratch`, into `input`
// itself, or into a matrix it keeps alive.
cv::Mat filter_rows(const filter_chain& chain, std::size_t first, std::size_t last, const image_layout& whole,
                    const cv::Mat& input, int input_top, int y0, int y1, detail::strip_scratch* scratch) {
    const int height = whole.height;
    if (first >= last || last > chain.steps.size() || y0 < 0 || y1 > height || y0 >= y1) {
        throw usage_error("run_strip: steps or rows outside the chain or image");
    }
    std::vector<int> halos;
    for (std::size_t i = first; i < last; ++i) halos.push_back(chain.steps[i].filter->halo(chain.steps[i].args));

    // `current` holds rows [current_top, current_top + current.rows) of the
    // input of step i; at first, what `input` holds. With scratch, each
    // step reads its band where the step before left it and writes into the
    // scratch block that band is not in.
    cv::Mat current = input;
    image_layout layout = whole;
    int current_top = input_top;
    int current_block = -1;  // the scratch block `current` is in, -1 for none
    for (std::size_t i = first; i < last; ++i) {
        const std::size_t k = i - first;
        const int after = std::accumulate(halos.begin() + static_cast<long>(k) + 1, halos.end(), 0);
        // Rows this step must produce, and the rows it reads to do so.
        const int out_top = std::max(0, y0 - after);
        const int out_bottom = std::min(height, y1 + after);
        const int in_top = std::max(0, out_top - halos[k]);
        const int in_bottom = std::min(height, out_bottom + halos[k]);
        cv::Mat band;
        cv::Mat result;
        int result_block = -1;
        if (scratch != nullptr) {
            band = standalone_rows(current, in_top - current_top, in_bottom - in_top);
            layout = chain.steps[i].filter->output_layout(layout, chain.steps[i].args);
            result_block = current_block == 0 ? 1 : 0;
            result = scratch->matrix(result_block, band.rows, band.cols, cv_type(layout));
        } else {
            band = current.rowRange(in_top - current_top, in_bottom - current_top).clone();
        }
        chain.steps[i].filter->apply(band, result, chain.steps[i].args);
        if (result.rows != band.rows || result.cols != band.cols) {
            throw error(fmt::format("filter '{}' returned {}x{} rows for a {}x{} band", chain.steps[i].filter->name,
                                    result.cols, result.rows, band.cols, band.rows));
        }
        // A filter may hand its band back as its result: the rows stay where they were.
        if (scratch != nullptr && result.datastart == band.datastart) result_block = current_block;
        current = result.rowRange(out_top - in_top, out_bottom - in_top);  // keeps a result of the filter's own alive
        current_top = out_top;
        current_block = result_block;
    }
    return current;
}

void store_rows(const filter_chain& chain, const cv::Mat& rows, cv::Mat target) {
    if (rows.type() != target.type() || rows.size() != target.size()) {
        throw error(fmt::format("chain '{}' produced pixels of another type than it declared", chain.text));
    }
    rows.copyTo(target);
}

}  // namespace

namespace detail {

cv::Mat strip_scratch::matrix(int which, int rows, int cols, int type) {
    auto& block = blocks_[static_cast<std::size_t>(which)];
    const std::size_t bytes = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * CV_ELEM_SIZE(type);
    if (block.size < bytes) {
        block.memory.reset();  // before the new one: the larger block replaces it, not adds to it
        block.memory = std::make_unique_for_overwrite<std::byte[]>(bytes);
        block.size = bytes;
    }
    // Over outside data, a matrix is standalone: OpenCV sees no rows around it.
    return cv::Mat(rows, cols, type, block.memory.get());
}

void run_strip(const filter_chain& chain, std::size_t first, std::size_t last, const image& input,
               const image& output, int y0, int y1, strip_scratch& scratch) {
    if (output.height() != input.height()) throw usage_error("run_strip: the output has another height than the input");
    store_rows(chain, filter_rows(chain, first, last, input.layout(), as_mat(input), 0, y0, y1, &scratch),
               as_mat(output).rowRange(y0, y1));
}

void run_ring_strip(const filter_chain& chain, const row_ring& input, const row_ring& output, int y0, int y1,
                    strip_scratch& scratch) {
    const int height = input.layout().height;
    const int halo = stage_halo(chain, 0, chain.steps.size());
    const int top = std::max(0, y0 - halo);
    const int bottom = std::min(height, y1 + halo);
    if (output.layout().height != height || y0 < 0 || y1 > height || y0 >= y1 || bottom - top > input.rows() ||
        y1 - y0 > output.rows()) {
        throw usage_error("run_ring_strip: rows outside the image or more than a ring holds");
    }
    const cv::Mat rows(bottom - top, input.layout().width, cv_type(input.layout()), input.row(top));
    store_rows(chain, filter_rows(chain, 0, chain.steps.size(), input.layout(), rows, top, y0, y1, &scratch),
               cv::Mat(y1 - y0, output.layout().width, cv_type(output.layout()), output.row(y0)));
}

future<void> submit_ring_strip(pool& workers, const filter_chain& chain, const row_ring& input, const row_ring& output,
                               int y0, int y1) {
    return workers.submit(strata_run_ring_strip, input.memory(), input.layout(), output.memory(), output.layout(),
                          chain.text, std::int32_t{y0}, std::int32_t{y1});
}

unsigned worker_count(const run_options& options) {
    return options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
}

strip_plan plan_strips(int height, int halo, const run_options& options) {
    const int most = std::max(1, height);
    if (options.strips != 0) return {height, std::clamp(static_cast<int>(std::min(options.strips, 1u << 30)), 1, most)};
    // Each strip reads `halo` rows more above and below: with a wide halo,
    // more strips add work faster than workers take it away. The estimate
    // is the rounds of strips each worker runs times the rows of one band;
    // among equal estimates, the least work in all, then the most strips
    // (four per worker at most: for balance, and for the decoder and
    // encoder to overlap with the strips).
    const auto workers = static_cast<std::int64_t>(std::min(worker_count(options), 1u << 20));
    const auto rows = static_cast<std::int64_t>(height);
    const auto band = [&](std::int64_t count) { return std::min(rows, (rows + count - 1) / count + 2 * std::int64_t{halo}); };
    const auto estimate = [&](std::int64_t count) { return (count + workers - 1) / workers * band(count); };
    const auto work = [&](std::int64_t count) { return count * band(count); };
    std::int64_t best = 1;
    for (std::int64_t count = 2; count <= std::min<std::int64_t>(4 * workers, most); ++count) {
        if (estimate(count) < estimate(best) || (estimate(count) == estimate(best) && work(count) <= work(best))) {
            best = count;
        }
    }
    return {height, static_cast<int>(best)};
}

strip_plan plan_stream_strips(const image_layout& layout, int halo, const run_options& options) {
    strip_plan plan = plan_strips(layout.height, halo, options);
    if (options.strips != 0 || layout.height == 0) return plan;
    constexpr std::size_t strip_bytes = 512 << 10;
    const auto rows = std::max<std::int64_t>(
        {16, 4 * std::int64_t{halo},
         static_cast<std::int64_t>((strip_bytes + layout.row_bytes() - 1) / std::max<std::size_t>(1, layout.row_bytes()))});
    plan.count = static_cast<int>(std::max<std::int64_t>(plan.count, (layout.height + rows - 1) / rows));
    return plan;
}

bool is_geometry(const chain_step& step) { return step.filter->kind == filter_kind::geometry; }

std::size_t stage_end(const filter_chain& chain, std::size_t first) {
    if (first < chain.steps.size() && is_geometry(chain.steps[first])) return first + 1;
    std::size_t end = first;
    while (end < chain.steps.size() && !is_geometry(chain.steps[end])) ++end;
    return end;
}

int stage_halo(const filter_chain& chain, std::size_t first, std::size_t last) {
    int halo = 0;
    for (std::size_t i = first; i < last; ++i) halo += chain.steps[i].filter->halo(chain.steps[i].args);
    return halo;
}

image_layout layout_after(const filter_chain& chain, std::size_t first, std::size_t last, image_layout layout) {
    for (std::size_t i = first; i < last; ++i) layout = chain.steps[i].filter->output_layout(layout, chain.steps[i].args);
    return layout;
}

future<void> submit_strip(pool& workers, const filter_chain& chain, std::size_t first, std::size_t last,
                          const image& input, const image& output, int y0, int y1) {
    return workers.submit(strata_run_strip, input.pixels(), input.layout(), output.pixels(), output.layout(),
                          chain.text, std::uint64_t{first}, std::uint64_t{last}, std::int32_t{y0}, std::int32_t{y1});
}

}  // namespace detail

void run_strip(const filter_chain& chain, std::size_t first, std::size_t last, const image& input,
               const image& output, int y0, int y1) {
    detail::strip_scratch scratch;
    detail::run_strip(chain, first, last, input, output, y0, y1, scratch);
}

image run_chain(const filter_chain& chain, const image& input, const run_options& options, pool* workers) {
    return detail::run_steps(chain, 0, input, options, workers);
}

image detail::run_steps(const filter_chain& chain, std::size_t first, const image& input, const run_options& options,
                        pool* workers) {
    std::unique_ptr<pool> own_pool;  // made when a stage first needs one
    image current = input;
    std::size_t i = first;
    while (i < chain.steps.size()) {
        const std::size_t end = stage_end(chain, i);
        if (is_geometry(chain.steps[i])) {
            // Geometry changes which input rows an output row needs: one
            // whole-image stage, on this process.
            // The filter writes straight into the next image where it can.
            const auto& step = chain.steps[i];
            image next(step.filter->output_layout(current.layout(), step.args));
            cv::Mat result = as_mat(next);
            step.filter->apply(as_mat(current), result, step.args);
            if (result.rows != next.height() || result.cols != next.width() || result.type() != cv_type(next.layout())) {
                throw error(fmt::format("filter '{}' produced another size or type than it declared", step.filter->name));
            }
            if (result.data != as_mat(next).data) result.copyTo(as_mat(next));
            next.set_metadata(current.metadata());
            current = next;
            i = end;
            continue;
        }

        const image_layout out_layout = layout_after(chain, i, end, current.layout());
        const int height = current.height();
        const strip_plan strips = plan_strips(height, stage_halo(chain, i, end), options);
        // Serially, the result can go back into the input's own pixels when
        // the caller allows it (or the input is this function's own): each
        // strip's rows are held until no later strip reads those input rows.
        const bool own_input = i > first || options.reuse_input;
        if (options.where == backend::serial && own_input && out_layout == current.layout()) {
            const int halo = stage_halo(chain, i, end);
            std::deque<std::pair<int, cv::Mat>> held;  // first row, rows
            for (int s = 0; s < strips.count; ++s) {
                const int next_reads_from = s + 1 < strips.count ? strips.top(s + 1) - halo : height;
                held.emplace_back(strips.top(s), filter_rows(chain, i, end, current.layout(), as_mat(current), 0,
                                                             strips.top(s), strips.bottom(s), nullptr));
                while (!held.empty() && held.front().first + held.front().second.rows <= next_reads_from) {
                    const auto& [top, rows] = held.front();
                    store_rows(chain, rows, as_mat(current).rowRange(top, top + rows.rows));
                    held.pop_front();
                }
            }
            for (const auto& [top, rows] : held) store_rows(chain, rows, as_mat(current).rowRange(top, top + rows.rows));
            i = end;
            continue;
        }
        image output(out_layout);
        output.set_metadata(current.metadata());

        switch (options.where) {
        case backend::serial: {
            strip_scratch scratch;
            for (int s = 0; s < strips.count; ++s) {
                run_strip(chain, i, end, current, output, strips.top(s), strips.bottom(s), scratch);
            }
            break;
        }
        case backend::threads: {
            tbb::enumerable_thread_specific<strip_scratch> scratch;
            tbb::task_arena arena(static_cast<int>(worker_count(options)));  // as many threads as workers asked for
            arena.execute([&] {
                tbb::parallel_for(0, strips.count, [&](int s) {
                    run_strip(chain, i, end, current, output, strips.top(s), strips.bottom(s), scratch.local());
                });
            });
            break;
        }
        case backend::processes: {
            if (workers == nullptr) {
                own_pool = std::make_unique<pool>(pool_options{.processes = worker_count(options)});
                workers = own_pool.get();
            }
            std::vector<future<void>> done;
            for (int s = 0; s < strips.count; ++s) {
                done.push_back(submit_strip(*workers, chain, i, end, current, output, strips.top(s), strips.bottom(s)));
            }
            for (auto& f : done) f.wait();
            for (auto& f : done) f.get();  // the first failure, after every strip has stopped
            break;
        }
        }
        current = output;
        i = end;
    }
    return current;
}

}  // namespace strata
