// What the harnesses share: FUZZ_CHECK, an invariant that must hold for every input. A broken one
// prints what failed and aborts, which libFuzzer records as a crash (a finding) with its input.
//
//   FUZZ_CHECK(image.cols == width, "decoded width differs from the header's");
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, message)                                                           \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, message, \
                   #condition);                                                                  \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)
