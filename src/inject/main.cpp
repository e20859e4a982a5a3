// inject: puts a message from a user or a script into the queue, the way
// qmail-inject does (inject(8); the work is in lib/inject/inject.cpp,
// which sendmail shares).
#include "inject/inject.hpp"

int main(int argc, char** argv) { return postern::inject::run(argc, argv); }
