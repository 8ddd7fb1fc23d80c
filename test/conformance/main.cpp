// GCC 12 with -fsanitize reports maybe-uninitialized inside libstdc++'s std::function as
// instantiated by Catch2's own regex code: a known false positive in code that is not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
