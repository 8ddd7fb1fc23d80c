// GCC 12 with -fsanitize=address -O2 sees a false maybe-uninitialized inside <regex>, which
// Catch2's main pulls in; it is not our code, so it is silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
