# abseil.cmake: where bridgeimport's abseil comes from.
#
# By default abseil is built from the source pinned in deps/sources.lock, as
# static PIC archives with hidden visibility, and linked into what needs it
# (the extension, the tests, the fuzzers) and nowhere else: the wheel then
# depends on no abseil shared library, and its abseil symbols stay private to
# _native (see the --exclude-libs link option in CMakeLists.txt). The
# sanitizer and fuzzer flags set before this file is included apply to
# abseil too, so the TSan build has a TSan-instrumented abseil.
#
#   BRIDGEIMPORT_ABSEIL_ARCHIVE  a local copy of the pinned tarball (-D, else
#       the environment variable of that name); neither: FetchContent
#       downloads the upstream URL. Either way the sha256 pinned in
#       deps/sources.lock is checked. `make` passes the file
#       tools/fetch_sources.py fetched.
#   BRIDGEIMPORT_SYSTEM_ABSEIL=ON  find_package(absl) instead: a distribution's
#       own abseil, or any installed prefix, of LTS 20260526 or newer.
#
# Defines the usual absl:: targets either way.

option(BRIDGEIMPORT_SYSTEM_ABSEIL
       "Use an installed abseil (find_package) instead of the pinned source" OFF)

if(BRIDGEIMPORT_SYSTEM_ABSEIL)
  # The code uses the current API (absl::NoDestructor, MutexLock(Mutex&),
  # Mutex::lock()); only the pinned LTS is tested. Debian 12's 20220623 and
  # Debian 13's 20240722 are too old: refuse them here, not with a page of
  # compiler errors.
  find_package(absl CONFIG REQUIRED)
  if(absl_VERSION VERSION_LESS 20260526)
    message(FATAL_ERROR "BRIDGEIMPORT_SYSTEM_ABSEIL: abseil ${absl_VERSION} at ${absl_DIR} "
                        "is older than the LTS 20260526 bridgeimport needs; build with the "
                        "pinned source instead (BRIDGEIMPORT_SYSTEM_ABSEIL=OFF, the default)")
  endif()
  return()
endif()

# The pin: the line of deps/sources.lock that starts with "abseil".
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../deps/sources.lock" _bi_abseil_pin
     REGEX "^abseil[ \t]")
string(REGEX REPLACE "[ \t]+" ";" _bi_abseil_pin "${_bi_abseil_pin}")
list(LENGTH _bi_abseil_pin _bi_fields)
if(NOT _bi_fields EQUAL 5)
  message(FATAL_ERROR "deps/sources.lock: no well-formed 'abseil' line")
endif()
list(GET _bi_abseil_pin 3 _bi_abseil_sha256)
list(GET _bi_abseil_pin 4 _bi_abseil_url)

# The environment is read at every configure (a cached empty value from an
# earlier run must not hide it); -D on the command line wins.
set(BRIDGEIMPORT_ABSEIL_ARCHIVE "" CACHE FILEPATH
    "Local copy of the pinned abseil tarball (empty: $ENV{BRIDGEIMPORT_ABSEIL_ARCHIVE}, else download)")
set(_bi_abseil_archive "${BRIDGEIMPORT_ABSEIL_ARCHIVE}")
if(NOT _bi_abseil_archive)
  set(_bi_abseil_archive "$ENV{BRIDGEIMPORT_ABSEIL_ARCHIVE}")
endif()
if(_bi_abseil_archive)
  if(NOT EXISTS "${_bi_abseil_archive}")
    message(FATAL_ERROR "BRIDGEIMPORT_ABSEIL_ARCHIVE: no file ${_bi_abseil_archive} "
                        "(tools/fetch_sources.py abseil fetches it)")
  endif()
  set(_bi_abseil_url "${_bi_abseil_archive}")
endif()

if(CMAKE_VERSION VERSION_LESS 3.28)
  message(FATAL_ERROR "Building abseil from its pinned source needs CMake 3.28 or newer "
                      "(this is ${CMAKE_VERSION}): pip installs one as a build requirement; "
                      "or configure with -DBRIDGEIMPORT_SYSTEM_ABSEIL=ON")
endif()

# abseil's own options, for this build only: static, PIC, hidden, no tests or
# install rules; cxx_std_17 propagates to what links it.
set(BUILD_SHARED_LIBS OFF)
set(BUILD_TESTING OFF)
set(ABSL_PROPAGATE_CXX_STD ON)
set(ABSL_ENABLE_INSTALL OFF)
set(ABSL_BUILD_TESTING OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

# EXCLUDE_FROM_ALL: only the abseil libraries something links are built
# (about 100 files, half a minute on two cores). SYSTEM: abseil's headers
# are not subject to this project's warning flags.
include(FetchContent)
FetchContent_Declare(absl
  URL "${_bi_abseil_url}"
  URL_HASH SHA256=${_bi_abseil_sha256}
  DOWNLOAD_EXTRACT_TIMESTAMP ON
  EXCLUDE_FROM_ALL
  SYSTEM)
FetchContent_MakeAvailable(absl)
