// STRATA_API marks the symbols libstrata exports; everything else is hidden.
#pragma once

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif
