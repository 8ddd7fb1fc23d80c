#pragma once
// Runs the Catch2 session over the tests linked into the program: what each test program's main()
// calls (Catch::Session is declared only where Catch2's implementation is compiled).
int catch2_run(int argc, char **argv);
