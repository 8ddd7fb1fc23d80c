// maild's unit tests: Catch2 itself is compiled once, in test/catch2-impl.cpp.
#include "catch2-run.hpp"

int main(int argc, char **argv)
{
	return catch2_run(argc, argv);
}
