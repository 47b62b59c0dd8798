// Per-thread scheduling priority (Linux nice values apply to single threads).
//
//   LowerThisThreadPriority(10);   // this thread now yields to normal-priority threads
//
// The server lowers its HTTP threads so that the model's threads, which synchronise at every
// layer, are never kept waiting by a decoder holding their core: a stalled OpenMP barrier costs
// the whole batch, a delayed decode costs one request a little.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pneumo {

// Best effort: raising a nice value needs no privilege; failure leaves the priority unchanged.
inline void LowerThisThreadPriority(int nice_value) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  ::setpriority(PRIO_PROCESS, tid, nice_value);
}

}  // namespace pneumo
