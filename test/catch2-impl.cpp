// Catch2 v2's implementation, compiled once per tree and linked into every test program: it is
// the costliest object in the tests (tens of seconds at -O2), so no test program compiles its own.
// Each program brings its own main() (conformance installs a signal storm around the run).
//
// GCC 12 with -fsanitize reports maybe-uninitialized inside libstdc++'s std::function as
// instantiated by Catch2's own regex code: a known false positive in code that is not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch2-run.hpp"

int catch2_run(int argc, char **argv)
{
	return Catch::Session().run(argc, argv);
}
