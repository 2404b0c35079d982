// Running a filter chain strip by strip: each strip reads the rows it needs
// around it (the chain's halo) and writes only its own rows, so the result is
// the whole-image result, bit for bit, on every backend.
#include <algorithm>
#include <deque>
#include <numeric>
#include <utility>
#include <thread>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <tbb/parallel_for.h>

#include "strata/filter.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"

namespace strata {

namespace {

int cv_type(const image_layout& layout) {
    const int depth = layout.type == sample_type::u8 ? CV_8U : layout.type == sample_type::u16 ? CV_16U : CV_32F;
    return CV_MAKETYPE(depth, layout.bands);
}

bool is_geometry(const chain_step& step) { return step.filter->kind == filter_kind::geometry; }

image_layout layout_after(const filter_chain& chain, std::size_t first, std::size_t last, image_layout layout) {
    for (std::size_t i = first; i < last; ++i) layout = chain.steps[i].filter->output_layout(layout, chain.steps[i].args);
    return layout;
}

// What a worker process runs for one strip.
STRATA_TASK(strata_run_strip, [](shared_buffer input_pixels, image_layout input_layout, shared_buffer output_pixels,
                                 image_layout output_layout, std::string chain_text, std::uint64_t first,
                                 std::uint64_t last, std::int32_t y0, std::int32_t y1) {
    cv::setNumThreads(1);  // the pool already keeps every core busy
    const filter_chain chain = parse_chain(chain_text);
    run_strip(chain, first, last, image(input_layout, std::move(input_pixels)),
              image(output_layout, std::move(output_pixels)), y0, y1);
});

}  // namespace

cv::Mat as_mat(const image& picture) {
    return cv::Mat(picture.height(), picture.width(), cv_type(picture.layout()), picture.pixels().data());
}

namespace {

// Rows [y0, y1) of the result of steps [first, last) on `input`, as a matrix
// that may be a view into a larger one it keeps alive.
cv::Mat filter_rows(const filter_chain& chain, std::size_t first, std::size_t last, const image& input, int y0, int y1) {
    const int height = input.height();
    if (first >= last || last > chain.steps.size() || y0 < 0 || y1 > height || y0 >= y1) {
        throw usage_error("run_strip: steps or rows outside the chain or image");
    }
    std::vector<int> halos;
    for (std::size_t i = first; i < last; ++i) halos.push_back(chain.steps[i].filter->halo(chain.steps[i].args));

    // `current` holds rows [current_top, current_top + current.rows) of the
    // input of step i; at first, the whole input image.
    cv::Mat current = as_mat(input);
    int current_top = 0;
    for (std::size_t i = first; i < last; ++i) {
        const std::size_t k = i - first;
        const int after = std::accumulate(halos.begin() + static_cast<long>(k) + 1, halos.end(), 0);
        // Rows this step must produce, and the rows it reads to do so.
        const int out_top = std::max(0, y0 - after);
        const int out_bottom = std::min(height, y1 + after);
        const int in_top = std::max(0, out_top - halos[k]);
        const int in_bottom = std::min(height, out_bottom + halos[k]);
        // A standalone copy: OpenCV picks its code path (and so its rounding)
        // differently for a view into a larger matrix, and the whole-image run
        // hands it a standalone one. Outside the image's own edges, the band's
        // border rows are context only and are cropped away below.
        const cv::Mat band = current.rowRange(in_top - current_top, in_bottom - current_top).clone();
        cv::Mat result;
        chain.steps[i].filter->apply(band, result, chain.steps[i].args);
        if (result.rows != band.rows || result.cols != band.cols) {
            throw error(fmt::format("filter '{}' returned {}x{} rows for a {}x{} band", chain.steps[i].filter->name,
                                    result.cols, result.rows, band.cols, band.rows));
        }
        current = result.rowRange(out_top - in_top, out_bottom - in_top);
        current_top = out_top;
    }
    return current;
}

void store_rows(const filter_chain& chain, const cv::Mat& rows, const image& output, int y0) {
    cv::Mat target = as_mat(output).rowRange(y0, y0 + rows.rows);
    if (rows.type() != target.type()) {
        throw error(fmt::format("chain '{}' produced pixels of another type than it declared", chain.text));
    }
    rows.copyTo(target);
}

int stage_halo(const filter_chain& chain, std::size_t first, std::size_t last) {
    int halo = 0;
    for (std::size_t i = first; i < last; ++i) halo += chain.steps[i].filter->halo(chain.steps[i].args);
    return halo;
}

}  // namespace

void run_strip(const filter_chain& chain, std::size_t first, std::size_t last, const image& input,
               const image& output, int y0, int y1) {
    if (output.height() != input.height()) throw usage_error("run_strip: the output has another height than the input");
    store_rows(chain, filter_rows(chain, first, last, input, y0, y1), output, y0);
}

image run_chain(const filter_chain& chain, const image& input, const run_options& options, pool* workers) {
    const unsigned threads = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    std::unique_ptr<pool> own_pool;
    if (options.where == backend::processes && workers == nullptr) {
        own_pool = std::make_unique<pool>(pool_options{.processes = threads});
        workers = own_pool.get();
    }
    image current = input;
    std::size_t i = 0;
    while (i < chain.steps.size()) {
        if (is_geometry(chain.steps[i])) {
            // Geometry changes which input rows an output row needs: one
            // whole-image stage, on this process.
            const auto& step = chain.steps[i];
            cv::Mat result;
            step.filter->apply(as_mat(current), result, step.args);
            image next(step.filter->output_layout(current.layout(), step.args));
            if (result.rows != next.height() || result.cols != next.width() || result.type() != cv_type(next.layout())) {
                throw error(fmt::format("filter '{}' produced another size or type than it declared", step.filter->name));
            }
            result.copyTo(as_mat(next));
            next.set_metadata(current.metadata());
            current = next;
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < chain.steps.size() && !is_geometry(chain.steps[end])) ++end;

        const image_layout out_layout = layout_after(chain, i, end, current.layout());
        const int height = current.height();
        const int strips = std::clamp(options.strips != 0 ? static_cast<int>(options.strips) : static_cast<int>(4 * threads),
                                      1, std::max(1, height));
        auto row = [&](int strip) { return static_cast<int>(static_cast<long long>(height) * strip / strips); };
        // Serially, the result can go back into the input's own pixels when
        // the caller allows it (or the input is this function's own): each
        // strip's rows are held until no later strip reads those input rows.
        const bool own_input = i > 0 || options.reuse_input;
        if (options.where == backend::serial && own_input && out_layout == current.layout()) {
            const int halo = stage_halo(chain, i, end);
            std::deque<std::pair<int, cv::Mat>> held;  // first row, rows
            for (int s = 0; s < strips; ++s) {
                const int next_reads_from = s + 1 < strips ? row(s + 1) - halo : height;
                held.emplace_back(row(s), filter_rows(chain, i, end, current, row(s), row(s + 1)));
                while (!held.empty() && held.front().first + held.front().second.rows <= next_reads_from) {
                    store_rows(chain, held.front().second, current, held.front().first);
                    held.pop_front();
                }
            }
            for (const auto& [top, rows] : held) store_rows(chain, rows, current, top);
            i = end;
            continue;
        }
        image output(out_layout);
        output.set_metadata(current.metadata());

        switch (options.where) {
        case backend::serial:
            for (int s = 0; s < strips; ++s) run_strip(chain, i, end, current, output, row(s), row(s + 1));
            break;
        case backend::threads:
            tbb::parallel_for(0, strips, [&](int s) { run_strip(chain, i, end, current, output, row(s), row(s + 1)); });
            break;
        case backend::processes: {
            std::vector<future<void>> done;
            for (int s = 0; s < strips; ++s) {
                done.push_back(workers->submit(strata_run_strip, current.pixels(), current.layout(), output.pixels(),
                                               output.layout(), chain.text, std::uint64_t{i}, std::uint64_t{end},
                                               std::int32_t{row(s)}, std::int32_t{row(s + 1)}));
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
