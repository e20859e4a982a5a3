// The Catch2 main for the unit tests: one binary, one file per src/lib unit.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
