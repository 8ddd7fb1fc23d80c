// The C API, as a C11 program uses it (c-api-scenarios.c is compiled as C).
#include "c-api-scenarios.h"
#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <string>

TEST_CASE("C API: a Dovecot-style daemon loop", "[c-api]")
{
	CHECK(c_scenario_dovecot_style() == 0);
}

TEST_CASE("C API: errors are NULL with errno, never an abort", "[c-api][semantic9]")
{
	CHECK(c_scenario_errors() == 0);
}

TEST_CASE("C API: signal_add delivers in loop context", "[c-api][semantic11]")
{
	if (const char *why = fixtures::libkqueue_no_thread_signals) {
		WARN("not checked on this build: " << why);
		return;
	}
	CHECK(c_scenario_signal(SIGTERM) == 0);
}

TEST_CASE("C API: the handler compiled in is the one configured", "[c-api]")
{
	std::string name = c_scenario_handler();
	CHECK(name == IOLOOP_EXPECTED_HANDLER);
}
