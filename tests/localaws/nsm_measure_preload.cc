// libnsm_measure_preload.so: the attacker's library of tests/integration/
// local_nsm_measure_test.py, loaded into a genuine binary with LD_PRELOAD or LD_AUDIT.
//
// It does nothing to the process except, with NSM_MEASURE_PRELOAD_SCRUB=1 in the environment,
// erase every LD_* entry and that variable itself from the process's initial environment block
// in place (the bytes /proc/PID/environ shows), as a library that wants to hide how it was loaded
// would. It also answers la_version so it can be an audit library (rtld-audit(7)).
//
// Built without sanitizers: it runs before any runtime is ready.

#include <cstdint>
#include <cstring>

extern "C" {

extern char** environ;

unsigned int la_version(unsigned int version) { return version; }

__attribute__((constructor)) static void NsmMeasurePreloadInit() {
  bool scrub = false;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strcmp(*e, "NSM_MEASURE_PRELOAD_SCRUB=1") == 0) scrub = true;
  }
  if (!scrub) return;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "LD_", 3) == 0 ||
        std::strncmp(*e, "NSM_MEASURE_PRELOAD_SCRUB=", 26) == 0) {
      // Overwrite the name and value with a harmless variable of the same length.
      const size_t n = std::strlen(*e);
      std::memset(*e, 'X', n);
      if (n >= 2) (*e)[1] = '=';
    }
  }
}

}  // extern "C"
