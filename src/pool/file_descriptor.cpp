// file_descriptor: closes its descriptor when the last copy goes.
#include "strata/file_descriptor.hpp"

#include <unistd.h>

namespace strata {

file_descriptor::file_descriptor(int fd) {
    if (fd >= 0) owned_ = std::make_shared<owner>(fd);
}

file_descriptor::owner::~owner() { ::close(fd); }

}  // namespace strata
