#include "cli/cli.h"

int main(int argc, char** argv) { return slipway::cli::Main(argc, argv); }
