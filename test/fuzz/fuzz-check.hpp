// A check for fuzz targets: unlike assert() it is never compiled out, and it names the failed
// condition before aborting, so libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			std::abort();                                                              \
		}                                                                                  \
	} while (0)
