// Storage for the subcommand registry (a function-local static, so the order
// in which the command files are linked does not matter).
#include "command.hpp"

#include <utility>

namespace strata::cli {

std::vector<command>& registry() {
    static std::vector<command> commands;
    return commands;
}

bool register_command(command entry) {
    registry().push_back(std::move(entry));
    return true;
}

}  // namespace strata::cli
