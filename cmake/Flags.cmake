# Warning and hardening flags (STYLE.md): applied to our own targets through lockout_flags.
add_library(lockout_flags INTERFACE)
target_compile_options(lockout_flags INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wformat=2 -Wimplicit-fallthrough
  -fstack-protector-strong -fstack-clash-protection -fcf-protection=full
  $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>
  -D_GLIBCXX_ASSERTIONS)
target_link_options(lockout_flags INTERFACE -Wl,-z,relro,-z,now -Wl,-z,noexecstack)
if(LOCKOUT_WERROR)
  target_compile_options(lockout_flags INTERFACE -Werror)
endif()

if(LOCKOUT_SANITIZE)
  add_compile_options(-fsanitize=${LOCKOUT_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${LOCKOUT_SANITIZE})
endif()

if(LOCKOUT_FUZZ)
  # Coverage instrumentation for every library; fuzz targets add -fsanitize=fuzzer themselves.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Reproducible binaries (issue 11, docs/ENCLAVE-IMAGE.md): no checkout or build directory in
# __FILE__, assertion text or debug info, so two checkouts in different directories build the
# same lockout-enclave bytes (and the EIF's PCR0). It also keeps the shared ccache (base_dir
# makes objects travel between checkouts) from carrying one checkout's path into another's
# binary. The build directory is listed last so that it wins for files under build/ (GCC applies
# the last matching map).
add_compile_options("-ffile-prefix-map=${CMAKE_SOURCE_DIR}/=" "-ffile-prefix-map=${CMAKE_BINARY_DIR}/=")
