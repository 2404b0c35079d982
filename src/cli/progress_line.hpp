// One line of progress on a terminal, redrawn in place: what batch and apply share.
#pragma once

#include <string>

namespace strata::cli {

/// "1:05" or "2:03:07".
std::string duration_text(double seconds);

/// Columns of the terminal on stderr (80 when it does not say).
int terminal_columns();

/// Redraws the current line of stderr with `text`, cut to the terminal's
/// width less one column, so that it never wraps.
void redraw_line(const std::string& text);

/// Clears the current line of stderr.
void clear_line();

}  // namespace strata::cli
