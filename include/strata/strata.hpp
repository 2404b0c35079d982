// The whole public API of strata in one include.
#pragma once

#include "strata/batch.hpp"
#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/file_descriptor.hpp"
#include "strata/image.hpp"
#include "strata/image_info.hpp"
#include "strata/memory.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"
#include "strata/process.hpp"
#include "strata/shared_memory.hpp"
#include "strata/version.hpp"
